//! The one place that builds a DataFusion session: [`Engine`] holds the
//! configuration, the memory pool and the SQL files; [`Engine::session`]
//! registers the lake tables (at the latest version, or as of a version or
//! instant), the caller's row scope, the UDFs and the views. Nobody else
//! calls `register_*`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::{DeltaTable, DeltaTableBuilder};
use tracing::debug;

use crate::cached::CachedView;
use crate::catalog::Catalog;
use crate::entity::{EntityDef, Manifest, entity_defs};
use crate::scope::{Caller, PARTNER_SETS, partner_events_sql};
use crate::sqlfiles::{self, SqlFile};
use crate::{Error, Result, udf};

/// Name of the events table (directory under `<data-dir>/lake/`).
pub const EVENTS_TABLE: &str = "events";
/// Name of the dead-letter table.
pub const REJECTED_TABLE: &str = "rejected_events";

/// How the engine runs. [`EngineConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The lake (default `<data_dir>/lake/`): a `file://` or `s3://` URL
    /// ending with `/`; table `name` is `<lake>/<name>/`. For `s3://`, the
    /// process registers the S3 store first (`fieldhouse_ingest::storage`).
    pub lake: url::Url,
    /// Read `views/` and `kpi/` from this directory instead of the copies
    /// built into the binary.
    pub sql_dir: Option<PathBuf>,
    /// Memory pool size in bytes (fair spill pool; sorts and joins spill to disk beyond it).
    /// Default: [`default_memory_limit`].
    pub memory_limit: usize,
    /// Where spill files go (default: the system temp dir).
    pub spill_dir: Option<PathBuf>,
    /// Time limit for one query (planning and the whole stream).
    pub query_timeout: Duration,
    /// DataFusion target partitions (default: number of cores).
    pub target_partitions: Option<usize>,
    /// How many computed view sets to keep for reuse by later sessions
    /// (default 2; 0 turns reuse off). A set is the views of one lake
    /// version, caller scope and reference instant; sessions whose instant
    /// is the wall clock never share one.
    pub view_sets: usize,
    /// Run queries on the Apache Ballista cluster whose scheduler is at this
    /// address (`host:port`) instead of in this process (see
    /// [`crate::cluster`]). Sessions of partner-scoped callers stay local.
    /// The scheduler's executors must read the lake at the same location.
    pub cluster: Option<String>,
}

/// The default memory pool: half of the machine's memory, at least 2 GiB
/// (2 GiB where the total cannot be read). The pool is a cap, not an
/// allocation; DataFusion's accounting counts more than the process really
/// holds (a 2 GiB pool refused `failure_rate` on the default demo lake at
/// 223 MiB resident), so a tight cap fails queries that fit easily.
pub fn default_memory_limit() -> usize {
    const MIN: usize = 2 << 30;
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    total_kib.map_or(MIN, |k| (k.saturating_mul(1024) / 2).max(MIN))
}

impl EngineConfig {
    /// Defaults: embedded SQL, [`default_memory_limit`], 5 min per query.
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        let data_dir: PathBuf = data_dir.into();
        EngineConfig {
            lake: local_lake(&data_dir),
            data_dir,
            sql_dir: None,
            memory_limit: default_memory_limit(),
            spill_dir: None,
            query_timeout: Duration::from_secs(300),
            target_partitions: None,
            view_sets: 2,
            cluster: None,
        }
    }
}

/// The refusal of a cluster session by a build without the feature `cluster`.
pub(crate) fn no_cluster() -> Error {
    Error::Cluster {
        message: "this build has no cluster engine (build with `--features cluster`, e.g. \
                  `cargo build --release -p fieldhouse-cli --features cluster`)"
            .into(),
    }
}

/// The `file://` URL of `<data_dir>/lake/` (made absolute against the
/// current directory; the directory need not exist).
pub fn local_lake(data_dir: &Path) -> url::Url {
    let dir = std::path::absolute(data_dir.join("lake")).unwrap_or_else(|_| data_dir.join("lake"));
    url::Url::from_directory_path(&dir).unwrap_or_else(|()| {
        url::Url::parse(&format!("file://{}/", dir.display())).expect("a file URL of an absolute path")
    })
}

/// Statements only: no DDL, no DML (INSERT, COPY ...), no SET/PREPARE.
pub fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// Which state of the lake to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsOf {
    /// The latest committed version.
    #[default]
    Latest,
    /// A Delta table version.
    Version(u64),
    /// The last version committed at or before this instant.
    Timestamp(DateTime<Utc>),
}

impl FromStr for AsOf {
    type Err = Error;
    /// `latest`, a version number, an RFC 3339 instant or a date (its midnight UTC).
    fn from_str(s: &str) -> Result<AsOf> {
        let s = s.trim();
        if s.is_empty() || s == "latest" {
            return Ok(AsOf::Latest);
        }
        if let Ok(v) = s.parse::<u64>() {
            return Ok(AsOf::Version(v));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(AsOf::Timestamp(t.with_timezone(&Utc)));
        }
        if let Some(t) = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
            return Ok(AsOf::Timestamp(t.and_utc()));
        }
        Err(Error::Parameter {
            name: "as_of".into(),
            message: format!("`{s}` is neither a version number, an RFC 3339 instant nor a date YYYY-MM-DD"),
        })
    }
}

/// Per-session choices.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The lake state to read.
    pub as_of: AsOf,
    /// The reference instant `fh_now()` (SLA states of open orders, ages).
    /// Default: the as-of instant, the commit time of the as-of version, or the wall clock.
    pub now: Option<DateTime<Utc>>,
    /// Where the views come from.
    pub source: Source,
}

/// Where a session's views come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The entity tables when they reflect the events version read (and the
    /// caller sees the whole lake); the raw events otherwise.
    #[default]
    Auto,
    /// Always computed from the raw events (what the entity tables are checked against).
    Events,
}

/// What a computed view set was computed for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ViewKey {
    version: u64,
    agent: Option<uuid::Uuid>,
    now: DateTime<Utc>,
    /// Read from the entity tables (else computed from the raw events).
    entities: bool,
}

/// The views of one session (and the agent's slice of `events`), each
/// computed on first scan, shared by later sessions with the same key.
#[derive(Debug)]
struct ViewSet {
    scoped_events: Option<Arc<CachedView>>,
    views: Vec<(String, Arc<dyn datafusion::catalog::TableProvider>)>,
}

/// Recently computed view sets, most recent last.
type ViewSets = Mutex<Vec<(ViewKey, Arc<ViewSet>)>>;

/// The KPI engine over one lake.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    pub(crate) runtime: Arc<RuntimeEnv>,
    views: Arc<Vec<SqlFile>>,
    /// The entity views (see [`crate::entity`]).
    pub(crate) entities: Arc<Vec<EntityDef>>,
    /// The entity manifest as read so far.
    pub(crate) manifest: Arc<tokio::sync::Mutex<Manifest>>,
    /// The store of the manifest (made on first use).
    pub(crate) manifest_store: Arc<std::sync::OnceLock<Arc<dyn deltalake::ObjectStore>>>,
    /// One maintenance pass at a time.
    pub(crate) maintain_lock: Arc<tokio::sync::Mutex<()>>,
    /// Whether [`Engine::maintain_forever`] runs for this engine (and its clones).
    pub(crate) maintainer: Arc<std::sync::atomic::AtomicBool>,
    /// Maintenance passes failed in a row; from 3 on, latest reads stop waiting for the entity tables.
    pub(crate) failed_passes: Arc<std::sync::atomic::AtomicU32>,
    /// The entity tables (and `events`) last loaded at a version, by name: a
    /// session at the same versions reuses them instead of replaying each log.
    loaded: Arc<Mutex<std::collections::HashMap<String, DeltaTable>>>,
    /// The session state every Delta scan keeps for its settings: this
    /// engine's settings and runtime, an empty catalog (see
    /// [`Engine::delta_provider`]); made on first use, then shared.
    scan_state: Arc<std::sync::OnceLock<Arc<datafusion::execution::SessionState>>>,
    /// The same for the entity tables' scans (see [`Engine::entity_provider`]).
    entity_scan_state: Arc<std::sync::OnceLock<Arc<datafusion::execution::SessionState>>>,
    catalog: Arc<Catalog>,
    /// Recently computed view sets, most recent last.
    view_sets: Arc<ViewSets>,
    /// The `events` table as last loaded at its latest version; brought up
    /// to date incrementally (a log listing when nothing changed) instead
    /// of being loaded anew for every session and version check.
    latest: Arc<tokio::sync::Mutex<Option<DeltaTable>>>,
    /// DataFusion settings given by `DATAFUSION_*` environment variables (see [`datafusion_env`]).
    config_overrides: Arc<Vec<(String, String)>>,
}

/// DataFusion settings from the environment, over the engine's own: each
/// option `datafusion.a.b` may be set by a variable `DATAFUSION_A_B` (as
/// `datafusion-cli` reads them), e.g. `DATAFUSION_EXECUTION_BATCH_SIZE=16384`
/// or `DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS=false`. For tuning and
/// benchmarks; the defaults are what the README's figures use. A value that
/// does not parse is an error when the engine is made.
pub fn datafusion_env() -> Result<Vec<(String, String)>> {
    datafusion_settings(|var| std::env::var_os(var).map(|v| v.to_string_lossy().into_owned()))
}

/// [`datafusion_env`] over the variables `lookup` gives.
fn datafusion_settings(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>> {
    let mut probe = SessionConfig::new();
    let mut set = Vec::new();
    for entry in probe.options().entries() {
        let var = entry.key.to_uppercase().replace('.', "_");
        if let Some(value) = lookup(&var) {
            probe
                .options_mut()
                .set(&entry.key, &value)
                .map_err(Error::query(format!("environment variable {var}={value}")))?;
            set.push((entry.key, value));
        }
    }
    Ok(set)
}

impl Engine {
    /// An engine over `<data_dir>/lake` with default settings.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::new(EngineConfig::new(data_dir.as_ref()))
    }

    /// An engine with `config`: loads the views and the KPI catalog.
    pub fn new(config: EngineConfig) -> Result<Engine> {
        if config.cluster.is_some() && !crate::CLUSTER_AVAILABLE {
            return Err(no_cluster());
        }
        let (views, kpis) = match &config.sql_dir {
            Some(dir) => (sqlfiles::read_dir(&dir.join("views"))?, sqlfiles::read_dir(&dir.join("kpi"))?),
            None => (sqlfiles::embedded_views(), sqlfiles::embedded_kpis()),
        };
        let catalog = Catalog::from_files(&kpis)?;
        let entities = entity_defs(&views)?;
        let config_overrides = Arc::new(datafusion_env()?);
        let mut disk = DiskManagerBuilder::default();
        if let Some(dir) = &config.spill_dir {
            disk = disk.with_mode(DiskManagerMode::Directories(vec![dir.clone()]));
        }
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit)))
            .with_disk_manager_builder(disk)
            .build_arc()
            .map_err(Error::query("building the runtime"))?;
        Ok(Engine {
            config,
            runtime,
            views: Arc::new(views),
            entities: Arc::new(entities),
            manifest: Arc::new(tokio::sync::Mutex::new(Manifest::default())),
            manifest_store: Arc::new(std::sync::OnceLock::new()),
            maintain_lock: Arc::new(tokio::sync::Mutex::new(())),
            maintainer: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            failed_passes: Arc::new(std::sync::atomic::AtomicU32::new(0)),
            loaded: Arc::new(Mutex::new(std::collections::HashMap::new())),
            scan_state: Arc::new(std::sync::OnceLock::new()),
            entity_scan_state: Arc::new(std::sync::OnceLock::new()),
            catalog: Arc::new(catalog),
            view_sets: Arc::new(Mutex::new(Vec::new())),
            latest: Arc::new(tokio::sync::Mutex::new(None)),
            config_overrides,
        })
    }

    /// This engine reading the lake as `other` does: while `other`'s entity
    /// maintainer runs, latest reads take the version it reached (an engine
    /// made per query, with a memory pool of its own, sees what the server's
    /// KPIs see).
    #[must_use]
    pub fn following(mut self, other: &Engine) -> Engine {
        self.maintainer = other.maintainer.clone();
        self.failed_passes = other.failed_passes.clone();
        self.manifest = other.manifest.clone();
        self.manifest_store = other.manifest_store.clone();
        self
    }

    /// Whether view `name` is an entity of this engine's SQL (kept as a
    /// Delta table under `<lake>/entities/<name>/`).
    pub fn is_entity(&self, name: &str) -> bool {
        self.entities.iter().any(|d| d.name == name)
    }

    /// Lake table `name` (an entity table, or `events`) at `version`, loaded once and reused.
    async fn table_at(&self, name: &str, version: u64) -> Result<DeltaTable> {
        let hit = {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            loaded.get(name).filter(|t| t.version() == Some(version)).cloned()
        };
        if let Some(t) = hit {
            return Ok(t);
        }
        let table = if name == EVENTS_TABLE {
            self.load_table(EVENTS_TABLE, AsOf::Version(version)).await?
        } else {
            self.load_entity(name, Some(version)).await?
        };
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_string(), table.clone());
        Ok(table)
    }

    /// The KPI catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The names of the views every session registers over `events`, in
    /// registration order.
    pub fn view_names(&self) -> impl Iterator<Item = &str> {
        self.views.iter().map(|v| v.name.as_str())
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The location of lake table (or folder) `name`, ending with `/`.
    pub fn table_url(&self, name: &str) -> url::Url {
        let name = name.trim_matches('/');
        self.config.lake.join(&format!("{name}/")).unwrap_or_else(|_| self.config.lake.clone())
    }

    /// The lake version a latest read sees now: the newest `events` version;
    /// while [`Engine::maintain_forever`] runs, the version the entity tables
    /// were last brought to (at most one maintenance pass behind), so that a
    /// live dashboard reads them instead of waiting for the raw events.
    pub async fn lake_version(&self) -> Result<i64> {
        let v = self.latest_version().await?;
        Ok(i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// The newest `events` version.
    pub async fn events_version(&self) -> Result<u64> {
        Ok(self.latest_events().await?.version().unwrap_or(0))
    }

    /// See [`Engine::lake_version`].
    async fn latest_version(&self) -> Result<u64> {
        let newest = self.events_version().await?;
        if self.maintainer.load(std::sync::atomic::Ordering::Relaxed)
            && self.failed_passes.load(std::sync::atomic::Ordering::Relaxed) < 3
            && let Some((v, _)) = self.entities_latest().await?
            && v <= newest
        {
            return Ok(v);
        }
        Ok(newest)
    }

    /// DataFusion settings of every session.
    pub(crate) fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::new().with_information_schema(false);
        // Strings from the lake as plain `Utf8`, not `Utf8View`: the views
        // join the events to themselves by order id many times, and every
        // join output of view arrays keeps all the input's string buffers
        // alive, so each further join copies gigabytes (the `orders` view of
        // a 12 M-event lake took 35 s and 4.6 GB with views). Filters on the
        // scan still skip the rows they reject before the other columns are
        // decoded.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        config.options_mut().execution.parquet.pushdown_filters = true;
        if let Some(n) = self.config.target_partitions {
            config = config.with_target_partitions(n);
        }
        for (key, value) in self.config_overrides.iter() {
            // Checked when the engine was made (see `datafusion_env`).
            let _ = config.options_mut().set(key, value);
        }
        config
    }

    /// A scan of Delta table `table` for a session of `ctx` (made with this
    /// engine's [`Engine::session_config`] and runtime, as every session is).
    pub(crate) async fn delta_provider(
        &self,
        ctx: &SessionContext,
        table: &DeltaTable,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        self.lake_scan(ctx, table, false).await
    }

    /// A scan of entity table `table` for a session of `ctx`: as
    /// [`Engine::delta_provider`], but a query's own filters are evaluated on
    /// the decoded batches instead of inside the Parquet reader (the filters a
    /// join pushes down at run time still skip rows there), unless
    /// `DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS` says otherwise. The
    /// entity tables' filters keep most rows: filtering while decoding made
    /// the four heaviest KPIs about 6 % slower on the 13.5 M-event lake
    /// (README, "Entity tables").
    async fn entity_provider(
        &self,
        ctx: &SessionContext,
        table: &DeltaTable,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        self.lake_scan(ctx, table, true).await
    }

    async fn lake_scan(
        &self,
        ctx: &SessionContext,
        table: &DeltaTable,
        entity: bool,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        let lake = |source| Error::Lake { table: table.table_url().to_string(), source };
        table.update_datafusion_session(&ctx.state()).map_err(lake)?;
        // The provider keeps the session it is given (for its scan settings
        // only). Given `ctx`'s state, whose catalog holds the provider, the two
        // would keep each other alive forever: give it a state with the same
        // settings and runtime but an empty catalog, made once per engine (a
        // session builds a scan for every lake table it registers).
        let state = if entity { &self.entity_scan_state } else { &self.scan_state };
        let bare = state
            .get_or_init(|| {
                let mut config = self.session_config();
                let given =
                    self.config_overrides.iter().any(|(k, _)| k == "datafusion.execution.parquet.pushdown_filters");
                if entity && !given {
                    config.options_mut().execution.parquet.pushdown_filters = false;
                }
                Arc::new(SessionContext::new_with_config_rt(config, self.runtime.clone()).state())
            })
            .clone();
        let provider =
            table.table_provider().with_session(bare).await.map_err(Error::query("scanning a lake table"))?;
        Ok(provider)
    }

    /// Lake table `table` at its loaded version as a plain Parquet listing of
    /// the files of that snapshot, in the types the Delta scan gives: a plan
    /// over it travels to a cluster without a codec of our own. The partition
    /// column of `events` (the UTC date of `occurred_at`) is computed, not
    /// read from the path; other partitioned tables, and tables whose
    /// protocol needs the Delta reader (deletion vectors, column mapping),
    /// are refused.
    async fn listing_provider(
        &self,
        ctx: &SessionContext,
        table: &DeltaTable,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        use datafusion::datasource::empty::EmptyTable;
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
        use datafusion::prelude::{cast, ident};
        use fieldhouse_domain::arrow_schema::PARTITION_COLUMN;

        let name = table.table_url().to_string();
        let lake = |source| Error::Lake { table: name.clone(), source };
        let snapshot = table.snapshot().map_err(lake)?;
        if snapshot.protocol().min_reader_version() > 1 {
            return Err(Error::Cluster {
                message: format!(
                    "lake table `{name}` needs Delta reader version {} (deletion vectors or column mapping): it cannot be read on a cluster",
                    snapshot.protocol().min_reader_version()
                ),
            });
        }
        let parts: Vec<String> = snapshot.metadata().partition_columns().to_vec();
        let logical = self.delta_provider(ctx, table).await?.schema();
        let file_schema = Arc::new(arrow::datatypes::Schema::new(
            logical.fields().iter().filter(|f| !parts.contains(f.name())).cloned().collect::<Vec<_>>(),
        ));
        let planning = |what: &str| Error::query(format!("{what} `{name}` for the cluster"));
        let urls = table
            .get_file_uris()
            .map_err(lake)?
            .map(ListingTableUrl::parse)
            .collect::<datafusion::common::Result<Vec<_>>>()
            .map_err(planning("listing"))?;
        let files: Arc<dyn datafusion::catalog::TableProvider> = if urls.is_empty() {
            Arc::new(EmptyTable::new(file_schema))
        } else {
            let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
            let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
            let config =
                ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(file_schema);
            Arc::new(ListingTable::try_new(config).map_err(planning("listing"))?)
        };
        let mut exprs = Vec::with_capacity(logical.fields().len());
        for f in logical.fields() {
            if !parts.contains(f.name()) {
                exprs.push(ident(f.name()));
            } else if f.name() == PARTITION_COLUMN && logical.field_with_name("occurred_at").is_ok() {
                exprs.push(cast(ident("occurred_at"), f.data_type().clone()).alias(f.name()));
            } else {
                return Err(Error::Cluster {
                    message: format!(
                        "lake table `{name}` is partitioned by `{}`: it cannot be read on a cluster",
                        f.name()
                    ),
                });
            }
        }
        let df = ctx.read_table(files).and_then(|d| d.select(exprs)).map_err(planning("reading"))?;
        Ok(df.into_view())
    }

    /// The `events` table at its latest version, from the kept copy brought
    /// up to date, or loaded when there is none (or updating it failed, e.g.
    /// after the log it stood on was cleaned up).
    pub(crate) async fn latest_events(&self) -> Result<DeltaTable> {
        let mut kept = self.latest.lock().await;
        if let Some(table) = kept.as_mut() {
            match table.update_incremental(None).await {
                Ok(()) => return Ok(table.clone()),
                Err(e) => {
                    debug!(error = %e, "reloading the events table");
                    *kept = None;
                }
            }
        }
        let table = self.load_table(EVENTS_TABLE, AsOf::Latest).await?;
        *kept = Some(table.clone());
        Ok(table)
    }

    /// The kept latest `events` table when it stands at version `v` (the KPI
    /// cache pins its computations to the version it saw: no log replay then).
    async fn kept_at(&self, v: u64) -> Option<DeltaTable> {
        let kept = self.latest.lock().await;
        kept.as_ref().filter(|t| t.version() == Some(v)).cloned()
    }

    /// Whether lake table `name` has a Delta log (probed without loading it:
    /// a failed load makes the Delta kernel log an error).
    async fn table_exists(&self, name: &str) -> bool {
        match DeltaTableBuilder::from_url(self.table_url(name)).and_then(|b| b.build()) {
            Ok(table) => table.verify_deltatable_existence().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    pub(crate) async fn load_table(&self, name: &str, as_of: AsOf) -> Result<DeltaTable> {
        let lake = |source| Error::Lake { table: name.to_string(), source };
        let mut builder = DeltaTableBuilder::from_url(self.table_url(name)).map_err(lake)?;
        builder = match as_of {
            AsOf::Latest => builder,
            AsOf::Version(v) => builder.with_version(v),
            AsOf::Timestamp(t) => builder.with_timestamp(t),
        };
        builder.load().await.map_err(lake)
    }

    fn cached_views(&self, key: &ViewKey) -> Option<Arc<ViewSet>> {
        let mut sets = self.view_sets.lock().unwrap_or_else(PoisonError::into_inner);
        let i = sets.iter().position(|(k, _)| k == key)?;
        let hit = sets.remove(i);
        let set = hit.1.clone();
        sets.push(hit);
        Some(set)
    }

    fn keep_views(&self, key: ViewKey, set: Arc<ViewSet>) {
        if self.config.view_sets == 0 {
            return;
        }
        let mut sets = self.view_sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.retain(|(k, _)| *k != key);
        sets.push((key, set));
        while sets.len() > self.config.view_sets {
            sets.remove(0);
        }
    }

    /// A fresh session for `caller`: lake tables (scoped to the caller's
    /// agent when it has one), UDFs and views.
    ///
    /// Views are computed on their first scan. When the reference instant is
    /// fixed (given, or that of an as-of version or instant), the computed
    /// views are kept (see [`EngineConfig::view_sets`]) and a later session
    /// for the same lake version, caller scope and instant reuses them, so a
    /// report or a dashboard page of many KPIs reads the lake once.
    pub async fn session(&self, caller: &Caller, options: &SessionOptions) -> Result<SessionContext> {
        let scope = caller.scope()?;
        let config = self.session_config();
        // On a cluster: the caller sees everything (a partner's slice is planned locally).
        let remote = self.config.cluster.as_deref().filter(|_| scope.is_none());
        let ctx = match remote {
            #[cfg(feature = "cluster")]
            Some(address) => SessionContext::new_with_state(crate::cluster::client_state(
                address,
                config.clone(),
                self.runtime.clone(),
            )?),
            #[cfg(not(feature = "cluster"))]
            Some(_) => return Err(no_cluster()),
            None => SessionContext::new_with_config_rt(config.clone(), self.runtime.clone()),
        };

        let latest = match options.as_of {
            AsOf::Latest if self.maintainer.load(std::sync::atomic::Ordering::Relaxed) => {
                Some(self.latest_version().await?)
            }
            _ => None,
        };
        let events = match (options.as_of, latest) {
            (AsOf::Latest, Some(v)) => match self.kept_at(v).await {
                Some(table) => table,
                None => self.table_at(EVENTS_TABLE, v).await?,
            },
            (AsOf::Latest, None) => self.latest_events().await?,
            // A pinned version (the KPI cache pins every latest request): the kept
            // newest table, else the one last loaded at that version.
            (AsOf::Version(v), _) => match self.kept_at(v).await {
                Some(table) => table,
                None => self.table_at(EVENTS_TABLE, v).await?,
            },
            (as_of, _) => self.load_table(EVENTS_TABLE, as_of).await?,
        };
        // The entity tables at the versions that reflect this events version, when the caller sees everything.
        let entity_versions = match (scope, options.source, events.version()) {
            (None, Source::Auto, Some(v)) => self.entities_at(v).await?,
            _ => None,
        };
        // The entity tables at those versions; any that cannot be read: the raw events instead.
        let mut entity_tables = std::collections::HashMap::new();
        if let Some(state) = &entity_versions {
            for (name, version) in state.tables.iter().filter(|(n, _)| self.is_entity(n)) {
                match self.table_at(name, *version).await {
                    Ok(t) => {
                        entity_tables.insert(name.clone(), t);
                    }
                    Err(e) => {
                        tracing::warn!(table = %name, version, error = %e.chain(), "entity table unreadable; computing from the events");
                        entity_tables.clear();
                        break;
                    }
                }
            }
        }
        let entity_versions = entity_versions.filter(|_| !entity_tables.is_empty());
        let now = match (options.now, options.as_of) {
            (Some(n), _) => n,
            (None, AsOf::Timestamp(t)) => t,
            (None, AsOf::Version(v)) => events
                .snapshot()
                .ok()
                .and_then(|s| s.version_timestamp(v))
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_else(Utc::now),
            (None, AsOf::Latest) => Utc::now(),
        };
        for f in udf::all(now) {
            ctx.register_udf(f);
        }
        let reusable =
            self.config.view_sets > 0 && remote.is_none() && !(options.now.is_none() && options.as_of == AsOf::Latest);
        let key =
            ViewKey { version: events.version().unwrap_or(0), agent: scope, now, entities: entity_versions.is_some() };
        let cached = if reusable { self.cached_views(&key) } else { None };
        let provider = match remote {
            Some(_) => self.listing_provider(&ctx, &events).await?,
            None => self.delta_provider(&ctx, &events).await?,
        };
        debug!(version = events.version(), ?scope, %now, entities = entity_versions.is_some(), "session over events");

        let mut scoped_events = None;
        match scope {
            None => {
                ctx.register_table(EVENTS_TABLE, provider).map_err(Error::query("registering events"))?;
                // The dead letters are for unscoped readers only, and optional.
                // Its versions are its own: only an as-of instant carries over.
                let as_of = match options.as_of {
                    AsOf::Timestamp(t) => AsOf::Timestamp(t),
                    _ => AsOf::Latest,
                };
                if remote.is_none()
                    && self.table_exists(REJECTED_TABLE).await
                    && let Ok(rejected) = self.load_table(REJECTED_TABLE, as_of).await
                    && let Ok(p) = self.delta_provider(&ctx, &rejected).await
                {
                    ctx.register_table(REJECTED_TABLE, p).map_err(Error::query("registering rejected"))?;
                }
            }
            Some(_) if cached.as_ref().is_some_and(|c| c.scoped_events.is_some()) => {
                let scoped = cached.as_ref().and_then(|c| c.scoped_events.clone());
                if let Some(scoped) = scoped {
                    ctx.register_table(EVENTS_TABLE, scoped).map_err(Error::query("registering events"))?;
                }
            }
            Some(agent) => {
                // Plan the agent's slice in a private session that holds the raw
                // table; only the resulting view is visible to the caller.
                let private = SessionContext::new_with_config_rt(config.clone(), self.runtime.clone());
                for f in udf::all(now) {
                    private.register_udf(f);
                }
                let columns: Vec<String> = provider.schema().fields().iter().map(|f| f.name().clone()).collect();
                private.register_table(EVENTS_TABLE, provider).map_err(Error::query("registering events"))?;
                let agent_param = || vec![("agent", ScalarValue::Utf8(Some(agent.hyphenated().to_string())))];
                let partitions = config.target_partitions();
                // The id sets, each computed once (later sets and the branches read them).
                for (name, sql) in PARTNER_SETS {
                    let df = private
                        .sql(sql)
                        .await
                        .and_then(
                            |df| if sql.contains("$agent") { df.with_param_values(agent_param()) } else { Ok(df) },
                        )
                        .map_err(Error::query(format!("planning the agent scope's `{name}`")))?;
                    private
                        .register_table(*name, Arc::new(CachedView::new(name, df, partitions).all_columns()))
                        .map_err(Error::query("registering the agent scope"))?;
                }
                let df = private
                    .sql(&partner_events_sql(&columns))
                    .await
                    .and_then(|df| df.with_param_values(agent_param()))
                    .map_err(Error::query("planning the agent scope"))?;
                // Computed once per session: every view scans `events` many times.
                // With every column: a later query of the same view set (a report's next section) that
                // needed a column more would compute the agent's slice again (seconds, a full scan).
                let scoped = Arc::new(CachedView::new(EVENTS_TABLE, df, config.target_partitions()).all_columns());
                ctx.register_table(EVENTS_TABLE, scoped.clone()).map_err(Error::query("registering events"))?;
                scoped_events = Some(scoped);
            }
        }

        if let Some(set) = cached {
            debug!(version = key.version, "reusing computed views");
            for (name, view) in &set.views {
                ctx.register_table(name.as_str(), view.clone())
                    .map_err(Error::query(format!("registering view `{name}`")))?;
            }
            return Ok(ctx);
        }
        let partitions = ctx.state().config().target_partitions();
        let mut views = Vec::with_capacity(self.views.len());
        for view in self.views.iter() {
            let mut df = ctx
                .sql_with_options(&view.body, read_only())
                .await
                .map_err(Error::query(format!("planning view `{}`", view.name)))?;
            if let Some(table) = entity_tables.get(&view.name) {
                // Read the entity table instead, in the types of the view's own plan.
                let entity = match remote {
                    Some(_) => self.listing_provider(&ctx, table).await?,
                    None => self.entity_provider(&ctx, table).await?,
                };
                let exprs: Vec<datafusion::prelude::Expr> = df
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        datafusion::prelude::cast(datafusion::prelude::col(f.name()), f.data_type().clone())
                            .alias(f.name())
                    })
                    .collect();
                df = ctx
                    .read_table(entity)
                    .and_then(|d| d.select(exprs))
                    .map_err(Error::query(format!("reading entity table `{}`", view.name)))?;
            }
            // Over the entity tables every view is a plain (inlined) view: the
            // tables are already computed, so a query's filters and projections
            // reach the Parquet scans (row groups skipped by their statistics)
            // instead of a whole view being read into memory first. Over the raw
            // events a view is computed once per session (see `cached`).
            // On a cluster every view is inlined: the plan that leaves for the
            // scheduler holds only the lake tables' file scans.
            let provider: Arc<dyn datafusion::catalog::TableProvider> = if entity_versions.is_some() || remote.is_some()
            {
                df.into_view()
            } else {
                Arc::new(CachedView::new(&view.name, df, partitions))
            };
            ctx.register_table(view.name.as_str(), provider.clone())
                .map_err(Error::query(format!("registering view `{}`", view.name)))?;
            views.push((view.name.clone(), provider));
        }
        if reusable {
            self.keep_views(key, Arc::new(ViewSet { scoped_events, views }));
        }
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn datafusion_settings_come_from_their_variables_and_bad_values_are_refused() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |var: &str| pairs.iter().find(|(k, _)| *k == var).map(|(_, v)| (*v).to_string())
        };
        let set = datafusion_settings(vars(&[
            ("DATAFUSION_EXECUTION_BATCH_SIZE", "16384"),
            ("DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS", "false"),
            ("DATAFUSION_NO_SUCH_OPTION", "1"),
        ]))
        .unwrap();
        assert_eq!(
            set,
            vec![
                ("datafusion.execution.batch_size".to_string(), "16384".to_string()),
                ("datafusion.execution.parquet.pushdown_filters".to_string(), "false".to_string()),
            ]
        );
        let err = datafusion_settings(vars(&[("DATAFUSION_EXECUTION_BATCH_SIZE", "many")])).unwrap_err();
        assert!(err.to_string().contains("DATAFUSION_EXECUTION_BATCH_SIZE=many"), "{err}");
        assert!(datafusion_settings(vars(&[])).unwrap().is_empty());
    }
}
