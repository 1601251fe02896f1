//! The maintenance pass: which keys new events touch, recomputing their rows
//! in one Delta commit per table, the background loop and compaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext, col, lit};
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::logstore::object_store::{ObjectStoreExt, path::Path as StorePath};
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use serde::Serialize;
use tracing::{debug, info, warn};

use super::batches::{conform, delta_schema, sorted_by, text_values};
use super::{ENTITIES_DIR, ENTITY_APP_ID, REBUILD_ABOVE_EVENTS, REBUILD_ABOVE_KEYS, TableState, rebuild_above};
use crate::session::{AsOf, EVENTS_TABLE, Engine};
use crate::{Error, Result};

/// Target size of an entity table's files. Rows are written in key order: keys
/// are UUIDv7 (time-ordered) and a pass touches mostly recent ones, so its
/// `replaceWhere` rewrites the few files of recent keys, not the whole table.
const ENTITY_FILE_BYTES: u64 = 16 << 20;
/// Stack of the maintenance threads (address space; only what is used is backed by memory).
const MAINTENANCE_STACK: usize = 512 << 20;
/// How much nicer than the process the maintenance threads run, unless
/// `FIELDHOUSE_ENTITY_NICE` (0 to 19) says otherwise: by default not at all.
/// Measured under `bench/live` (200 events/s, 8 readers in a closed loop, 2
/// cores, the same binary, two rounds alternated): at 10 the readers got the
/// cores first, but the passes starved: event -> entity tables p50 15.8-16.7 s
/// against 3.7-5.7 s at 0, and most lag probes never reached a dashboard page
/// within the run; the readers' p99 was not reliably better (0.98 s and 6.0 s
/// at 10, 2.1 s and 7.3 s at 0). A deployment whose readers matter more than
/// the freshness of their answers may set it.
const MAINTENANCE_NICE: i32 = 0;

/// Which keys of an entity a pass recomputes.
#[derive(Debug, Clone)]
enum Touched {
    /// Every row (rebuild).
    All,
    /// The rows of these keys (and of the NULL key when `null`).
    Keys { keys: BTreeSet<String>, null: bool },
}

impl Touched {
    fn none() -> Touched {
        Touched::Keys { keys: BTreeSet::new(), null: false }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Touched::Keys { keys, null: false } if keys.is_empty())
    }

    fn add(&mut self, other: &Touched) {
        match (&mut *self, other) {
            (Touched::All, _) => {}
            (_, Touched::All) => *self = Touched::All,
            (Touched::Keys { keys, null }, Touched::Keys { keys: k2, null: n2 }) => {
                keys.extend(k2.iter().cloned());
                *null |= *n2;
            }
        }
    }

    /// The predicate on `column` selecting the touched rows (`None`: all rows).
    fn predicate(&self, column: &str) -> Option<Expr> {
        match self {
            Touched::All => None,
            Touched::Keys { keys, null } => {
                let list: Vec<Expr> = keys.iter().map(|k| lit(k.as_str())).collect();
                let mut p = if list.is_empty() { lit(false) } else { col(column).in_list(list, false) };
                if *null {
                    p = p.or(col(column).is_null());
                }
                Some(p)
            }
        }
    }

    fn count(&self) -> Option<usize> {
        match self {
            Touched::All => None,
            Touched::Keys { keys, null } => Some(keys.len() + usize::from(*null)),
        }
    }
}

/// What to do in [`Engine::maintain_entities`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MaintainOptions {
    /// Rebuild every table from `events` (what `fieldhouse lake rebuild-entities` does).
    pub rebuild: bool,
    /// Stop with an error after this many table commits, before the manifest
    /// is written: a crash drill for tests.
    pub stop_after_commits: Option<usize>,
    /// Recompute by key up to this many new events, rebuild above (default:
    /// [`rebuild_above`] of the lake's events); tests that check the
    /// incremental path over a large gap set it high.
    pub rebuild_above: Option<usize>,
}

/// What one table got in a pass.
#[derive(Debug, Clone, Serialize)]
pub struct EntityTableReport {
    pub table: String,
    /// `rebuilt`, `updated` or `unchanged`.
    pub mode: &'static str,
    /// Keys recomputed (`None` for a rebuild).
    pub keys: Option<usize>,
    /// Rows written.
    pub rows: usize,
    /// The table's version after the pass.
    pub version: u64,
    pub ms: u64,
}

/// What a maintenance pass did.
#[derive(Debug, Clone, Serialize)]
pub struct EntityReport {
    /// The events version the tables reflect now.
    pub events_version: u64,
    /// The events version they reflected before (`None`: no manifest yet).
    pub from_version: Option<u64>,
    /// Events added between the two (`None` when not counted: rebuild).
    pub new_events: Option<usize>,
    pub tables: Vec<EntityTableReport>,
    pub ms: u64,
    /// Whether the pass rebuilt because more events came than
    /// [`rebuild_above`] (a flood), not for another reason.
    #[serde(skip)]
    pub flood: bool,
}

/// Key columns of the new events, by column name, with the event type of each row.
struct NewEvents {
    rows: usize,
    types: Vec<String>,
    columns: HashMap<String, Vec<Option<String>>>,
}

impl NewEvents {
    /// The keys in `column` of the events whose type is in `types`.
    fn touched(&self, column: &str, types: Option<&BTreeSet<String>>) -> Touched {
        let mut keys = BTreeSet::new();
        let mut null = false;
        if let Some(values) = self.columns.get(column) {
            for (t, v) in self.types.iter().zip(values) {
                if types.is_some_and(|ts| !ts.contains(t)) {
                    continue;
                }
                match v {
                    Some(k) => {
                        keys.insert(k.clone());
                    }
                    None => null = true,
                }
            }
        }
        Touched::Keys { keys, null }
    }
}

/// The variable that sets how much nicer the maintenance threads run.
const NICE_VARIABLE: &str = "FIELDHOUSE_ENTITY_NICE";

/// How much nicer than the process the maintenance threads run: [`NICE_VARIABLE`] or [`MAINTENANCE_NICE`].
fn maintenance_nice(value: Option<&str>) -> Result<i32> {
    let Some(value) = value else { return Ok(MAINTENANCE_NICE) };
    value.trim().parse::<i32>().ok().filter(|n| (0..=19).contains(n)).ok_or_else(|| Error::Refused {
        message: format!("{NICE_VARIABLE}={value}: expected a whole number from 0 (the server's priority) to 19"),
    })
}

/// Runs the calling thread `by` nicer than it was (Linux keeps a nice value per thread).
fn lower_priority(by: i32) {
    #[cfg(target_os = "linux")]
    if by > 0 {
        // SAFETY: system calls on the calling thread's own id; no memory is passed or kept.
        let done = unsafe {
            let tid = libc::gettid() as libc::id_t;
            let now = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, (now + by).min(19))
        };
        if done != 0 {
            debug!(error = %std::io::Error::last_os_error(), "entity maintenance thread keeps its priority");
        }
    }
}

/// How long the upkeep waits after a pass that took `took` before it looks
/// for new events again, when longer than `poll`: as long as the pass took
/// (the upkeep takes at most half of the time), or three times as long after
/// a pass over a flood (more new events than [`rebuild_above`]: the tables
/// are rebuilt; at most a quarter of the time). Under a flood a pass of
/// several seconds in every two cut `bench/ingest/entities.sh`'s events/s
/// to 0.52-0.66 of events-only ingest. A steady stream's passes keep the
/// shorter wait, and so does a rebuild for another reason (the first pass of
/// a lake, an events version no longer readable).
fn pause_after(took: Duration, poll: Duration, flood: bool) -> Option<Duration> {
    let pause = if flood { took * 3 } else { took };
    (pause > poll).then_some(pause)
}

/// The runtime of entity maintenance: two workers with deep stacks, made once per process,
/// [`maintenance_nice`] nicer than the process.
fn maintenance_runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    crate::compute::process_runtime(&RUNTIME, "entity maintenance runtime", || {
        let nice = maintenance_nice(std::env::var(NICE_VARIABLE).ok().as_deref())?;
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(2)
            .thread_name("fh-entities")
            .thread_stack_size(MAINTENANCE_STACK)
            .on_thread_start(move || lower_priority(nice))
            .enable_all();
        Ok(builder)
    })
}

/// Whether every file of `uris` (files of `table`'s store) is still there.
async fn all_exist(table: &DeltaTable, uris: &[String]) -> bool {
    let store = table.log_store().root_object_store(None);
    for uri in uris {
        let Some(path) = url::Url::parse(uri).ok().and_then(|u| StorePath::from_url_path(u.path()).ok()) else {
            return false;
        };
        if store.head(&path).await.is_err() {
            return false;
        }
    }
    true
}

impl Engine {
    /// A session for maintenance: the engine's settings and UDFs, nothing registered.
    fn maintenance_context(&self) -> SessionContext {
        let ctx = SessionContext::new_with_config_rt(self.session_config(), self.runtime.clone());
        for f in crate::udf::all(chrono::Utc::now()) {
            ctx.register_udf(f);
        }
        ctx
    }

    /// Bring the entity tables up to the latest `events` version: recompute
    /// the keys touched since the version they reflect (or rebuild them),
    /// then record the new state in the manifest. One pass at a time per
    /// engine; a concurrent pass of another process makes one of the two
    /// fail on a commit conflict (the Delta `txn` of [`ENTITY_APP_ID`]).
    pub async fn maintain_entities(&self, options: MaintainOptions) -> Result<EntityReport> {
        // A pass runs on threads of their own with deep stacks: deltalake turns
        // the `key IN (...)` predicate into a chain of ORs as deep as the list
        // is long (for file skipping), and walks it recursively. One runtime
        // for every pass of the process (threads made per pass left their
        // allocator heaps behind: the server's memory grew with every pass).
        let engine = self.clone();
        let runtime = maintenance_runtime()?;
        runtime
            .spawn(async move { Box::pin(engine.maintain_pass(options)).await })
            .await
            .unwrap_or_else(|e| Err(Error::Refused { message: format!("entity maintenance stopped: {e}") }))
    }

    async fn maintain_pass(&self, options: MaintainOptions) -> Result<EntityReport> {
        let _pass = self.maintain_lock.lock().await;
        let started = Instant::now();
        let events = self.latest_events().await?;
        let target = events.version().unwrap_or(0);
        let latest = if options.rebuild { None } else { self.entities_latest().await? };
        let from = latest.as_ref().map(|(v, _)| *v).filter(|v| *v <= target);
        let known = latest.as_ref().map(|(_, t)| t.clone()).unwrap_or_default();
        let complete = self.entities.iter().all(|d| known.current(d));
        if from == Some(target) && complete {
            return Ok(EntityReport {
                events_version: target,
                from_version: from,
                new_events: Some(0),
                tables: Vec::new(),
                ms: 0,
                flood: false,
            });
        }
        let new = match from {
            Some(f) => self.new_events(f, &events).await?,
            None => None,
        };
        // Above the bound the tables are rebuilt. The events' rows (for the
        // bound) from the files' statistics, only when there are new events to
        // weigh; without statistics, the fixed bound.
        let flood = new.as_ref().is_some_and(|n| {
            n.rows
                > options.rebuild_above.unwrap_or_else(|| {
                    let total: Option<usize> =
                        events.snapshot().ok().and_then(|s| s.log_data().iter().map(|f| f.num_records()).sum());
                    total.map_or(REBUILD_ABOVE_EVENTS, rebuild_above)
                })
        });
        let new = new.filter(|_| !flood);
        let ctx = self.maintenance_context();
        let provider = self.delta_provider(&ctx, &events).await?;
        ctx.register_table("__events_all", provider).map_err(Error::query("registering events"))?;

        // Every entity table as it stands (the latest version: after a crash
        // it may hold part of an unfinished pass, which this pass recomputes).
        let mut tables: HashMap<String, DeltaTable> = HashMap::new();
        for d in self.entities.iter() {
            tables.insert(d.name.clone(), self.load_entity(&d.name, None).await?);
        }
        let mut touched: HashMap<String, Touched> = HashMap::new();
        let mut registered: HashMap<String, Option<u64>> = HashMap::new();
        let mut reports = Vec::new();
        let mut written = BTreeMap::new();
        let mut digests = BTreeMap::new();
        let mut commits = 0usize;
        for def in self.entities.iter() {
            let t0 = Instant::now();
            let table = tables.get(&def.name).cloned().ok_or_else(|| Error::Refused { message: def.name.clone() })?;
            let exists = table.version().is_some();
            let mut t = match &new {
                Some(n) if exists && known.current(def) && def.reads_events => n.touched(&def.key, def.types.as_ref()),
                Some(_) if exists && known.current(def) => Touched::none(),
                _ => Touched::All,
            };
            for (view, column) in &def.follows {
                let theirs = touched.get(view).cloned().unwrap_or(Touched::All);
                if column == &def.key || matches!(theirs, Touched::All) {
                    t.add(&theirs);
                } else if let Some(pred) = theirs.predicate(column).filter(|_| !theirs.is_empty()) {
                    t.add(&self.keys_where(&ctx, &table, &def.key, pred).await?);
                    // Keyed otherwise than what it follows (order_followups: by unit, following orders_core
                    // by order): the followed rows as they stand now may name a key this table has no row
                    // for yet (a new order of a unit), when they have this table's key column.
                    let followed = self
                        .entities
                        .iter()
                        .find(|d| &d.name == view)
                        .and_then(|d| Some((tables.get(view)?, theirs.predicate(&d.key)?)));
                    if let Some((their_table, their_pred)) = followed {
                        t.add(&self.followed_keys(&ctx, their_table, &def.key, their_pred).await?);
                    }
                }
            }
            if t.count().is_some_and(|n| n > REBUILD_ABOVE_KEYS) {
                // A calendar or product shared by most orders changed: rebuilding is cheaper than a key list.
                t = Touched::All;
            }
            if t.is_empty() {
                reports.push(EntityTableReport {
                    table: def.name.clone(),
                    mode: "unchanged",
                    keys: Some(0),
                    rows: 0,
                    version: table.version().unwrap_or(0),
                    ms: 0,
                });
                touched.insert(def.name.clone(), t);
                continue;
            }
            // The entity tables it reads, as they stand now (earlier ones already written in this pass).
            for name in &def.reads {
                let Some(other) = tables.get(name).filter(|t| t.version().is_some()) else { continue };
                if registered.get(name) == Some(&other.version()) {
                    continue;
                }
                let p = self.delta_provider(&ctx, other).await?;
                let _ = ctx.deregister_table(name.as_str());
                ctx.register_table(name.as_str(), p).map_err(Error::query("registering an entity table"))?;
                registered.insert(name.clone(), other.version());
            }
            let pred = t.predicate(&def.key);
            let mut events_df = ctx.table("__events_all").await.map_err(Error::query("reading events"))?;
            if let Some(p) = &pred {
                events_df = events_df.filter(p.clone()).map_err(Error::query("restricting events"))?;
            }
            let _ = ctx.deregister_table(EVENTS_TABLE);
            ctx.register_table(EVENTS_TABLE, events_df.into_view()).map_err(Error::query("registering events"))?;
            let mut df = ctx
                .sql_with_options(&def.sql, crate::session::read_only())
                .await
                .map_err(Error::query(format!("planning entity `{}`", def.name)))?;
            if let Some(p) = &pred {
                df = df.filter(p.clone()).map_err(Error::query("restricting an entity"))?;
            }
            let schema = delta_schema(df.schema().as_arrow());
            let batches =
                Box::pin(df.collect()).await.map_err(Error::query(format!("computing entity `{}`", def.name)))?;
            let batches = sorted_by(&def.key, conform(&schema, batches)?)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let props = CommitProperties::default()
                .with_application_transaction(Transaction::new(ENTITY_APP_ID, i64::try_from(target).unwrap_or(0)))
                .with_metadata([("fieldhouse.events_version".to_string(), serde_json::json!(target))]);
            let mut write = table
                .write(batches)
                .with_save_mode(SaveMode::Overwrite)
                .with_commit_properties(props)
                .with_target_file_size(std::num::NonZeroU64::new(ENTITY_FILE_BYTES));
            write = match &pred {
                Some(p) => write.with_replace_where(p.clone()),
                None => write.with_schema_mode(SchemaMode::Overwrite),
            };
            let lake = |source| Error::Lake { table: format!("{ENTITIES_DIR}/{}", def.name), source };
            let table = Box::pin(write.into_future()).await.map_err(lake)?;
            let version = table.version().unwrap_or(0);
            tables.insert(def.name.clone(), table);
            written.insert(def.name.clone(), version);
            digests.insert(def.name.clone(), def.digest.clone());
            reports.push(EntityTableReport {
                table: def.name.clone(),
                mode: if pred.is_some() { "updated" } else { "rebuilt" },
                keys: t.count(),
                rows,
                version,
                ms: t0.elapsed().as_millis() as u64,
            });
            debug!(table = %def.name, keys = ?t.count(), rows, version, "entity table written");
            touched.insert(def.name.clone(), t);
            commits += 1;
            if options.stop_after_commits == Some(commits) {
                return Err(Error::Refused {
                    message: format!("entity maintenance stopped after {commits} commits (crash drill)"),
                });
            }
        }
        // Tables without a write keep their version; a pass that rebuilt anything lists all.
        let full = from.is_none() || !complete;
        let mut state = if full { TableState::default() } else { known.as_ref().clone() };
        state.tables.extend(written.clone());
        state.sql.extend(digests);
        if full {
            for (name, t) in &tables {
                state.tables.insert(name.clone(), t.version().unwrap_or(0));
            }
            for d in self.entities.iter() {
                state.sql.insert(d.name.clone(), d.digest.clone());
            }
        }
        self.record_entities(target, &state).await?;
        let report = EntityReport {
            events_version: target,
            from_version: from,
            new_events: new.as_ref().map(|n| n.rows),
            tables: reports,
            ms: started.elapsed().as_millis() as u64,
            flood,
        };
        info!(
            events_version = target,
            from = ?from,
            new_events = ?report.new_events,
            written = written.len(),
            ms = report.ms,
            "entity tables brought up to date"
        );
        Ok(report)
    }

    /// The values of `key` in the rows of the followed entity `table` that match
    /// `pred`; none when it has no column `key` (or no version yet).
    async fn followed_keys(&self, ctx: &SessionContext, table: &DeltaTable, key: &str, pred: Expr) -> Result<Touched> {
        // From the table's Delta schema: no scan is built just to look at the columns.
        if !table.snapshot().is_ok_and(|s| s.schema().field(key).is_some()) {
            return Ok(Touched::none());
        }
        self.keys_where(ctx, table, key, pred).await
    }

    /// The values of `key` in the rows of entity `table` that match `pred`.
    async fn keys_where(&self, ctx: &SessionContext, table: &DeltaTable, key: &str, pred: Expr) -> Result<Touched> {
        if table.version().is_none() {
            return Ok(Touched::none());
        }
        let provider = self.delta_provider(ctx, table).await?;
        let batches = ctx
            .read_table(provider)
            .and_then(|df| df.filter(pred))
            .and_then(|df| df.select_columns(&[key]))
            .map_err(Error::query("looking up dependent keys"))?
            .collect()
            .await
            .map_err(Error::query("looking up dependent keys"))?;
        let mut keys = BTreeSet::new();
        let mut null = false;
        for b in &batches {
            for v in text_values(b.column(0), "reading keys")? {
                match v {
                    Some(k) => {
                        keys.insert(k);
                    }
                    None => null = true,
                }
            }
        }
        Ok(Touched::Keys { keys, null })
    }

    /// The key columns of the events added to `events` after version `from`
    /// (the files of the latest version that version `from` did not have);
    /// `None` when version `from` cannot be read any more.
    async fn new_events(&self, from: u64, events: &DeltaTable) -> Result<Option<NewEvents>> {
        let Ok(before) = self.load_table(EVENTS_TABLE, AsOf::Version(from)).await else {
            warn!(from, "events version {from} cannot be read; rebuilding the entity tables");
            return Ok(None);
        };
        let lake = |source| Error::Lake { table: EVENTS_TABLE.into(), source };
        let old: std::collections::HashSet<String> = before.get_file_uris().map_err(lake)?.collect();
        let now: std::collections::HashSet<String> = events.get_file_uris().map_err(lake)?.collect();
        let added: Vec<String> = now.iter().filter(|u| !old.contains(*u)).cloned().collect();
        // Files a compaction removed: their events are in the added files again, and are not new.
        let removed: Vec<String> = old.iter().filter(|u| !now.contains(*u)).cloned().collect();
        let mut columns: BTreeSet<String> = self.entities.iter().map(|d| d.key.clone()).collect();
        columns.insert("event_type".into());
        let mut out = NewEvents {
            rows: 0,
            types: Vec::new(),
            columns: columns.iter().filter(|c| *c != "event_type").map(|c| (c.clone(), Vec::new())).collect(),
        };
        if added.is_empty() {
            return Ok(Some(out));
        }
        let ctx = self.maintenance_context();
        // The lake's object store, for the file URLs read below.
        events.update_datafusion_session(&ctx.state()).map_err(lake)?;
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let query = Error::query("reading the new events");
        let mut df = ctx.read_parquet(added, ParquetReadOptions::default()).await.map_err(query)?;
        if !removed.is_empty() {
            if !all_exist(events, &removed).await {
                warn!("files compacted away since events version {from} are gone; rebuilding the entity tables");
                return Ok(None);
            }
            let gone = ctx
                .read_parquet(removed, ParquetReadOptions::default())
                .await
                .and_then(|d| d.select(vec![col("event_id").alias("__gone_id")]))
                .map_err(Error::query("reading compacted events"))?;
            df = df
                .join(gone, datafusion::prelude::JoinType::LeftAnti, &["event_id"], &["__gone_id"], None)
                .map_err(Error::query("leaving out compacted events"))?;
        }
        let batches = df
            .select_columns(&names)
            .map_err(Error::query("reading the new events"))?
            .collect()
            .await
            .map_err(Error::query("reading the new events"))?;
        let strings = |b: &RecordBatch, name: &str| -> Result<Vec<Option<String>>> {
            let c = b.column_by_name(name).ok_or_else(|| Error::Refused { message: format!("no column {name}") })?;
            text_values(c, "reading the new events")
        };
        for b in &batches {
            out.rows += b.num_rows();
            out.types.extend(strings(b, "event_type")?.into_iter().map(Option::unwrap_or_default));
            for (name, values) in out.columns.iter_mut() {
                values.extend(strings(b, name)?);
            }
        }
        Ok(Some(out))
    }

    /// Keep the entity tables current until `shutdown`: a pass whenever
    /// `events` has moved on (checked every `poll`), and a compaction of the
    /// tables' small files every `compact_every` (zero: never). While this
    /// runs, latest reads of this engine (and its clones) take the version
    /// the tables reflect (see [`Engine::lake_version`]).
    ///
    /// After a pass that took longer than `poll`, the next check waits (see
    /// [`pause_after`]): as long as the pass took, three times as long after
    /// a pass over a flood of events (whose passes rebuild whole tables), so
    /// the upkeep does not starve the ingest that commits them; the tables
    /// then lag further and catch up when the flood ends.
    pub async fn maintain_forever(
        &self,
        poll: std::time::Duration,
        compact_every: std::time::Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        use std::sync::atomic::Ordering;
        tokio::pin!(shutdown);
        self.maintainer.store(true, Ordering::Relaxed);
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut compacted = Instant::now();
        let mut passes: u64 = 0;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {
                    let behind = match (self.events_version().await, self.entities_version().await) {
                        (Ok(newest), Ok(done)) => done != Some(newest),
                        (Err(e), _) | (_, Err(e)) => {
                            debug!(error = %e.chain(), "entity maintenance: lake not readable yet");
                            false
                        }
                    };
                    if behind {
                        let started = Instant::now();
                        let mut flood = false;
                        match self.maintain_entities(MaintainOptions::default()).await {
                            Ok(report) => {
                                flood = report.flood;
                                self.failed_passes.store(0, Ordering::Relaxed);
                                // Each pass adds a manifest object; between compactions, prune now and then.
                                passes += 1;
                                if passes.is_multiple_of(500)
                                    && let Err(e) = self.prune_manifest().await
                                {
                                    warn!(error = %e.chain(), "pruning the entity manifest failed");
                                }
                            }
                            Err(e) => {
                                let n = self.failed_passes.fetch_add(1, Ordering::Relaxed) + 1;
                                warn!(error = %e.chain(), failed_in_a_row = n, "entity maintenance pass failed; retrying");
                            }
                        }
                        if let Some(pause) = pause_after(started.elapsed(), poll, flood) {
                            tick.reset_after(pause);
                        }
                    }
                    if !compact_every.is_zero() && compacted.elapsed() >= compact_every {
                        compacted = Instant::now();
                        if let Err(e) = self.compact_entities().await {
                            warn!(error = %e.chain(), "compaction of the entity tables failed");
                        }
                    }
                }
            }
        }
        self.maintainer.store(false, Ordering::Relaxed);
    }

    /// Compact the entity tables' small files (each pass adds a few) and
    /// record the compacted versions in the manifest for the same events
    /// version; then prune the manifest ([`Engine::prune_manifest`]). Returns
    /// (table, files removed, files added) per table, the manifest last as
    /// `_manifest` (objects deleted, 0).
    pub async fn compact_entities(&self) -> Result<Vec<(String, u64, u64)>> {
        let _pass = self.maintain_lock.lock().await;
        let Some((events_version, state)) = self.entities_latest().await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut compacted = state.as_ref().clone();
        let mut changed = false;
        for d in self.entities.iter() {
            let table = self.load_entity(&d.name, None).await?;
            // Only a table as the manifest has it: one ahead holds part of an unfinished pass,
            // which must not be recorded as this events version.
            if table.version().is_none() || table.version() != state.tables.get(&d.name).copied() {
                continue;
            }
            let lake = |source| Error::Lake { table: format!("{ENTITIES_DIR}/{}", d.name), source };
            let before = table.version();
            let (table, metrics) = table.optimize().await.map_err(lake)?;
            out.push((d.name.clone(), metrics.num_files_removed, metrics.num_files_added));
            // Recorded only when the compaction is the one commit after the manifest's version.
            if metrics.num_files_added > 0 && table.version() == before.map(|v| v + 1) {
                compacted.tables.insert(d.name.clone(), table.version().unwrap_or(0));
                changed = true;
            }
        }
        if changed && self.entities_latest().await?.map(|(v, _)| v) == Some(events_version) {
            self.record_entities(events_version, &compacted).await?;
        }
        let pruned = self.prune_manifest().await?;
        out.push((super::MANIFEST_DIR.to_string(), u64::try_from(pruned).unwrap_or(u64::MAX), 0));
        Ok(out)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    #[test]
    fn a_pass_rebuilds_above_a_fiftieth_of_the_events_within_bounds() {
        use super::super::{REBUILD_ABOVE_EVENTS, REBUILD_FLOOR_EVENTS, rebuild_above};
        assert_eq!(rebuild_above(1_317_550), 26_351, "the demo lake");
        assert_eq!(rebuild_above(1_000), REBUILD_FLOOR_EVENTS, "small lakes recompute by key");
        assert_eq!(rebuild_above(13_473_986), REBUILD_ABOVE_EVENTS, "the large lake");
    }

    #[test]
    fn after_a_long_pass_the_upkeep_waits_as_long_and_three_times_as_long_under_a_flood() {
        let ms = Duration::from_millis;
        let poll = ms(500);
        assert_eq!(super::pause_after(ms(300), poll, false), None, "a short pass keeps the poll");
        assert_eq!(super::pause_after(ms(2000), poll, false), Some(ms(2000)));
        assert_eq!(super::pause_after(ms(2000), poll, true), Some(ms(6000)));
        assert_eq!(super::pause_after(ms(200), poll, true), Some(ms(600)));
        assert_eq!(super::pause_after(ms(100), poll, true), None);
    }

    /// The nice value of the calling thread (field 19 of /proc/thread-self/stat).
    fn thread_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // After the command name in parentheses: state is field 3, nice field 19.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn a_thread_is_made_nicer_by_the_amount_given() {
        let (ours, theirs) = std::thread::spawn(|| {
            let ours = thread_nice();
            super::lower_priority(3);
            (ours, thread_nice())
        })
        .join()
        .unwrap();
        assert_eq!(theirs, (ours + 3).min(19), "ours {ours}");
        // The test's own thread is not touched.
        assert_eq!(thread_nice(), ours);
    }

    #[test]
    fn the_nice_variable_takes_0_to_19() {
        assert_eq!(super::maintenance_nice(None).unwrap(), super::MAINTENANCE_NICE);
        assert_eq!(super::maintenance_nice(Some(" 0")).unwrap(), 0);
        assert_eq!(super::maintenance_nice(Some("19")).unwrap(), 19);
        for bad in ["20", "-1", "high", ""] {
            let e = super::maintenance_nice(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("FIELDHOUSE_ENTITY_NICE") && e.contains("0 (the server's priority) to 19"),
                "{bad}: {e}"
            );
        }
    }
}
