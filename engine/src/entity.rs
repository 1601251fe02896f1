//! Entity tables: the views of `sql/views/` kept as Delta tables of the lake
//! (`<lake>/entities/<view>`), brought up to date after every commit to
//! `events` by recomputing only the rows of the keys that commit touched.
//!
//! **Which views.** A view file with a line `-- entity: key=COLUMN
//! [follows=VIEW.COLUMN,...]` is an entity: its rows are a function of the
//! events that carry its key (and of the entity views it joins). `key` is a
//! column of both the view and `events`; every row of the view belongs to the
//! events of its key. `follows=VIEW.COLUMN` says that the view joins entity
//! `VIEW` through its own column `COLUMN`: when rows of `VIEW` change, the
//! rows of this view whose `COLUMN` names them are recomputed too. A view
//! without the line (`orders`, whose SLA states move with the clock) is
//! computed at read time over the entity tables, as before. Two rules,
//! checked on the SQL as DataFusion parses it when the engine loads the views:
//! an entity view does not call `fh_now()` (its rows would move with the
//! clock, and a table is only recomputed when events arrive), and every other
//! view it reads is an entity view it `follows` (else a change of that view's
//! rows would not recompute its own). Reading `events` is always allowed.
//!
//! **Maintenance** ([`Engine::maintain_entities`]): the manifest says which
//! `events` version the tables reflect (`from`). The files added to `events`
//! since `from` hold the new events; their key columns give, per entity, the
//! touched keys (events of the types its SQL names), widened by `follows`
//! (rows of this entity that join a touched row of another). For each entity
//! in file order, the view's own SQL runs over `events` restricted to those
//! keys (and the other entity tables), and the result replaces the rows of
//! those keys in one Delta commit (`replaceWhere`), carrying `txn(app id
//! fieldhouse-entities, version = events version)`. A table the manifest does
//! not know, or a gap too large to be worth it, is rebuilt whole.
//!
//! **The manifest** (`<lake>/entities/_manifest/`, see [`Manifest`]): after
//! all tables are written, one object `{"events_version": E, "tables": {name:
//! version}, "sql": {name: digest}}` listing every table. A reader takes the
//! tables at the versions of the state for the events version it reads, so the
//! entity tables it sees are consistent with each other and with `events` at
//! that version. It is made of whole objects, never appended to, so it works
//! the same on a local disk and on S3. (Lakes written before it kept a
//! `_versions.jsonl` file: their entity tables are rebuilt once.)
//! A crash between table commits leaves the manifest at the old state: readers
//! keep reading the old versions, and the next pass recomputes the touched
//! keys of the whole gap again (recomputing a key from the events is
//! idempotent: rows are replaced, never added twice).
//!
//! **As-of.** An events version with a manifest state is read from the entity
//! tables at the versions that state gives; any other version (before the
//! tables existed, between two passes that covered several commits) is
//! computed from the raw events as before: same answers, the old speed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::IntoFuture;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::prelude::{Expr, ParquetReadOptions, SessionContext, col, lit};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, visit_expressions};
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::logstore::object_store::{self, ObjectStore, ObjectStoreExt, path::Path as StorePath};
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use fieldhouse_domain::event::EVENT_TYPES;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::session::{AsOf, EVENTS_TABLE, Engine};
use crate::sqlfiles::SqlFile;
use crate::{Error, Result};

/// Directory of the entity tables under the lake.
pub const ENTITIES_DIR: &str = "entities";
/// The Delta `txn` application id of entity maintenance (version = the events version reflected).
pub const ENTITY_APP_ID: &str = "fieldhouse-entities";
/// A pass over more new events than this rebuilds every table instead of
/// recomputing keys (a bulk load touches most keys anyway).
pub const REBUILD_ABOVE_EVENTS: usize = 250_000;
/// A pass that touches more keys of a table than this rebuilds the table.
pub const REBUILD_ABOVE_KEYS: usize = 50_000;
/// Target size of an entity table's files. Rows are written in key order: keys
/// are UUIDv7 (time-ordered) and a pass touches mostly recent ones, so its
/// `replaceWhere` rewrites the few files of recent keys, not the whole table.
const ENTITY_FILE_BYTES: u64 = 16 << 20;
/// Stack of the maintenance threads (address space; only what is used is backed by memory).
const MAINTENANCE_STACK: usize = 512 << 20;

/// One entity view: its name, key, what it follows, the event types its SQL reads.
#[derive(Debug, Clone)]
pub(crate) struct EntityDef {
    pub(crate) name: String,
    pub(crate) key: String,
    /// (entity view, column of this view that joins it)
    pub(crate) follows: Vec<(String, String)>,
    /// The event types named in the SQL; `None`: the SQL names none (every type counts).
    pub(crate) types: Option<BTreeSet<String>>,
    /// The entity views of earlier files that the SQL reads.
    pub(crate) reads: BTreeSet<String>,
    /// Whether the SQL reads `events` (else only the entity views it follows change its rows).
    pub(crate) reads_events: bool,
    /// A digest of the SQL: a table built by other SQL is rebuilt, and not read.
    pub(crate) digest: String,
    pub(crate) sql: String,
}

/// The entity views among `views` (in their order), from their `-- entity:` lines.
pub(crate) fn entity_defs(views: &[SqlFile]) -> Result<Vec<EntityDef>> {
    let bad = |v: &SqlFile, message: String| Error::SqlFile { file: v.file.clone(), message };
    let mut defs: Vec<EntityDef> = Vec::new();
    for v in views {
        let Some(line) = v.body.lines().find_map(|l| l.trim().strip_prefix("-- entity:")) else { continue };
        let mut key = None;
        let mut follows = Vec::new();
        for part in line.split_whitespace() {
            if let Some(k) = part.strip_prefix("key=") {
                key = Some(k.to_string());
            } else if let Some(list) = part.strip_prefix("follows=") {
                for item in list.split(',').filter(|s| !s.is_empty()) {
                    let (view, column) = item
                        .split_once('.')
                        .ok_or_else(|| bad(v, format!("`follows={item}`: expected VIEW.COLUMN")))?;
                    if !defs.iter().any(|d| d.name == view) {
                        return Err(bad(
                            v,
                            format!("follows `{view}`, which is not an entity view of an earlier file"),
                        ));
                    }
                    follows.push((view.to_string(), column.to_string()));
                }
            } else {
                return Err(bad(
                    v,
                    format!("unknown `-- entity:` item `{part}` (key=COLUMN, follows=VIEW.COLUMN,...)"),
                ));
            }
        }
        let key = key.ok_or_else(|| bad(v, "`-- entity:` line without key=COLUMN".into()))?;
        let relations = check_entity_sql(v, views, &defs, &follows).map_err(|message| bad(v, message))?;
        let types = event_types_named(&v.body);
        let reads =
            defs.iter().filter(|d| relations.contains(&d.name.to_ascii_lowercase())).map(|d| d.name.clone()).collect();
        let digest = format!("{:016x}", fnv1a(sql_digest_text(line, &v.body).as_bytes()));
        defs.push(EntityDef {
            reads,
            reads_events: relations.contains(EVENTS_TABLE),
            digest,
            name: v.name.clone(),
            key,
            follows,
            types: (!types.is_empty()).then_some(types),
            sql: v.body.clone(),
        });
    }
    Ok(defs)
}

/// The clock function: a view that calls it is not a function of the events.
const CLOCK_FUNCTION: &str = "fh_now";

/// The rules of an entity view's SQL (`v`, whose `-- entity:` line gave
/// `follows`; `defs`: the entity views of the files before it), on the SQL as
/// DataFusion parses it: it does not call `fh_now()`, and every other view of
/// `views` it reads is an entity view it follows. `events` may be read; a CTE
/// is not a view; a name that is no view is left to the planner. `Ok`: the
/// relations the SQL reads (CTEs left out), in lower case; `Err`: the
/// message, naming the view and what to fix.
fn check_entity_sql(
    v: &SqlFile,
    views: &[SqlFile],
    defs: &[EntityDef],
    follows: &[(String, String)],
) -> std::result::Result<BTreeSet<String>, String> {
    let name = &v.name;
    let statements = DFParser::parse_sql(&v.body)
        .map_err(|e| format!("cannot parse the SQL of entity view `{name}` to check what it reads: {e}"))?;
    if statements.iter().any(calls_clock) {
        return Err(format!(
            "entity view `{name}` calls {CLOCK_FUNCTION}(): its rows would move with the clock, but an entity \
             table is recomputed only when events arrive; remove its `-- entity:` line (computed at read time), \
             or move what needs {CLOCK_FUNCTION}() into a view without one (as `orders` over `orders_core`)"
        ));
    }
    let mut relations = BTreeSet::new();
    for statement in &statements {
        let (tables, _ctes) = resolve_table_references(statement, true)
            .map_err(|e| format!("cannot resolve the tables entity view `{name}` reads: {e}"))?;
        for table in &tables {
            let table = table.table();
            relations.insert(table.to_ascii_lowercase());
            if table.eq_ignore_ascii_case(EVENTS_TABLE) {
                continue;
            }
            let Some(read) = views.iter().find(|w| w.name.eq_ignore_ascii_case(table)) else { continue };
            let read = &read.name;
            if follows.iter().any(|(f, _)| f.eq_ignore_ascii_case(read)) {
                continue;
            }
            return Err(if defs.iter().any(|d| d.name.eq_ignore_ascii_case(read)) {
                format!(
                    "entity view `{name}` reads entity view `{read}` but does not follow it, so a change of \
                     `{read}`'s rows would not recompute `{name}`'s: add `{read}.COLUMN` to the `follows=` of its \
                     `-- entity:` line (COLUMN: the column of `{name}` that joins `{read}`)"
                )
            } else {
                format!(
                    "entity view `{name}` reads view `{read}`, which is not an entity view of an earlier file, so \
                     nothing would recompute `{name}` when `{read}`'s rows change: read `events` or entity views \
                     of earlier files only (and follow them), or remove the `-- entity:` line of `{name}`"
                )
            });
        }
    }
    Ok(relations)
}

/// Whether `statement` calls `fh_now()`, in any case (a name in a comment or a
/// string is no call).
fn calls_clock(statement: &DFStatement) -> bool {
    let DFStatement::Statement(statement) = statement else { return false };
    visit_expressions(&**statement, |e| match e {
        SqlExpr::Function(f)
            if f.name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case(CLOCK_FUNCTION)) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// FNV-1a, 64 bits: a digest of a view's SQL that stays the same across builds and Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What an entity view's digest is taken of: its `-- entity:` line and its
/// SQL without comments, whitespace runs as one space. Editing a comment or
/// re-indenting the SQL keeps the tables; any change to the code rebuilds them.
fn sql_digest_text(entity_line: &str, sql: &str) -> String {
    let code = code_of(sql);
    let mut text = entity_line.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in code.split_whitespace() {
        text.push(' ');
        text.push_str(word);
    }
    text
}

/// `sql` without its `--` comments.
fn code_of(sql: &str) -> String {
    sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The event types quoted in `sql` (comments left out).
fn event_types_named(sql: &str) -> BTreeSet<String> {
    let code = code_of(sql);
    code.split('\'')
        .skip(1)
        .step_by(2)
        .filter(|s| EVENT_TYPES.iter().any(|(n, _)| n == s))
        .map(str::to_string)
        .collect()
}

/// Every entity table's state at one events version.
pub(crate) type TableVersions = Arc<TableState>;

/// One manifest object: every entity table's state at one events version.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestEntry {
    events_version: u64,
    /// Each table's Delta version.
    tables: BTreeMap<String, u64>,
    /// The digest of the SQL each table was computed with.
    #[serde(default)]
    sql: BTreeMap<String, String>,
}

/// What the entity tables are at one events version: each table's Delta
/// version and the digest of the SQL it was computed with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TableState {
    pub(crate) tables: BTreeMap<String, u64>,
    pub(crate) sql: BTreeMap<String, String>,
}

impl TableState {
    /// Whether `def`'s table is listed and was computed with its SQL.
    fn current(&self, def: &EntityDef) -> bool {
        self.tables.contains_key(&def.name) && self.sql.get(&def.name) == Some(&def.digest)
    }
}

/// The manifest: one object per state, `<lake>/entities/_manifest/<events
/// version, 20 digits>-<written at, ns>.json`, put whole (a local rename or
/// one S3 PUT: a reader never sees half of one). Keys sort by events version
/// then time: the newest object of a version is its state, the last key
/// the latest state. Listing starts after the last key seen (S3
/// `start-after`), and objects are read when a state is asked for.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    /// The last key listed.
    listed: Option<StorePath>,
    /// The newest key of each events version.
    keys: BTreeMap<u64, StorePath>,
    /// States read so far, by key.
    read: HashMap<StorePath, TableVersions>,
}

/// The folder of the manifest objects under [`ENTITIES_DIR`].
pub const MANIFEST_DIR: &str = "_manifest";

/// The events version of manifest key `path` (`None`: not a manifest object).
fn manifest_version(path: &StorePath) -> Option<u64> {
    let name = path.filename()?.strip_suffix(".json")?;
    let (version, at) = name.split_once('-')?;
    at.parse::<u128>().ok()?;
    version.parse().ok()
}

impl Manifest {
    /// List the objects written since the last call.
    async fn refresh(&mut self, store: &dyn ObjectStore) -> object_store::Result<()> {
        let prefix = StorePath::from(MANIFEST_DIR);
        let listing = match &self.listed {
            Some(after) => store.list_with_offset(Some(&prefix), after),
            None => store.list(Some(&prefix)),
        };
        let mut found: Vec<StorePath> = listing.map_ok(|m| m.location).try_collect().await?;
        found.sort();
        for key in found {
            if self.listed.as_ref().is_some_and(|l| &key <= l) {
                continue;
            }
            // Other files (none are written there) neither count nor move the listing on.
            let Some(v) = manifest_version(&key) else { continue };
            if self.keys.get(&v).is_none_or(|k| k < &key) {
                self.keys.insert(v, key.clone());
            }
            self.listed = Some(key);
        }
        Ok(())
    }

    /// The state of events version `v` (read once, then kept).
    async fn state(&mut self, store: &dyn ObjectStore, v: u64) -> object_store::Result<Option<TableVersions>> {
        let Some(key) = self.keys.get(&v).cloned() else { return Ok(None) };
        if let Some(t) = self.read.get(&key) {
            return Ok(Some(t.clone()));
        }
        let bytes = store.get(&key).await?.bytes().await?;
        let entry: ManifestEntry = serde_json::from_slice(&bytes)
            .map_err(|e| object_store::Error::Generic { store: "manifest", source: Box::new(e) })?;
        let state = Arc::new(TableState { tables: entry.tables, sql: entry.sql });
        self.read.insert(key, state.clone());
        Ok(Some(state))
    }

    async fn latest(&mut self, store: &dyn ObjectStore) -> object_store::Result<Option<(u64, TableVersions)>> {
        let Some(v) = self.keys.keys().next_back().copied() else { return Ok(None) };
        Ok(self.state(store, v).await?.map(|t| (v, t)))
    }
}

/// Write the state of `events_version` as a new manifest object.
async fn put_manifest(store: &dyn ObjectStore, events_version: u64, state: &TableState) -> object_store::Result<()> {
    let entry = ManifestEntry { events_version, tables: state.tables.clone(), sql: state.sql.clone() };
    let text = serde_json::to_vec(&entry)
        .map_err(|e| object_store::Error::Generic { store: "manifest", source: Box::new(e) })?;
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let key = StorePath::from(format!("{MANIFEST_DIR}/{events_version:020}-{at:020}.json"));
    let opts = object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() };
    store.put_opts(&key, text.into(), opts).await?;
    Ok(())
}

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

/// The runtime of entity maintenance: two workers with deep stacks, made once per process.
fn maintenance_runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fh-entities")
        .thread_stack_size(MAINTENANCE_STACK)
        .enable_all()
        .build()
        .map_err(|source| Error::Io { path: "entity maintenance runtime".into(), source })?;
    // Another caller may have made one meanwhile: keep the first, drop ours off any runtime thread.
    if let Err(ours) = RUNTIME.set(rt) {
        std::thread::spawn(move || drop(ours));
    }
    RUNTIME.get().ok_or_else(|| Error::Refused { message: "no entity maintenance runtime".into() })
}

/// `batches` as one batch sorted by `key` (nulls first).
fn sorted_by(key: &str, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let arrow = |e: arrow::error::ArrowError| Error::Query {
        context: "sorting entity rows".into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    };
    let Some(first) = batches.first() else { return Ok(batches) };
    let all = arrow::compute::concat_batches(&first.schema(), &batches).map_err(arrow)?;
    let Some(column) = all.column_by_name(key) else { return Ok(vec![all]) };
    let order = arrow::compute::sort_to_indices(column, None, None).map_err(arrow)?;
    Ok(vec![arrow::compute::take_record_batch(&all, &order).map_err(arrow)?])
}

/// The values of `column` as text (`None` for a null).
fn text_values(column: &arrow::array::ArrayRef, context: &str) -> Result<Vec<Option<String>>> {
    let c = cast(column, &DataType::Utf8).map_err(|e| Error::Query {
        context: context.into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    })?;
    let s = c.as_string::<i32>();
    Ok((0..s.len()).map(|i| (!s.is_null(i)).then(|| s.value(i).to_string())).collect())
}

/// The local path of a `file://` URL (`None` for other stores).
fn url_path(url: &str) -> Option<PathBuf> {
    url::Url::parse(url).ok().filter(|u| u.scheme() == "file").and_then(|u| u.to_file_path().ok())
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

/// Arrow types a Delta table of protocol (1, 2) holds: plain strings, signed
/// integers, microsecond UTC timestamps.
fn delta_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Dictionary(_, v) => delta_type(v),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) => {
            DataType::List(Arc::new(Field::new(f.name(), delta_type(f.data_type()), true)))
        }
        DataType::Struct(fs) => DataType::Struct(
            fs.iter().map(|f| Field::new(f.name(), delta_type(f.data_type()), true)).collect::<Fields>(),
        ),
        other => other.clone(),
    }
}

/// The schema of an entity table for a view's output schema.
fn delta_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema.fields().iter().map(|f| Field::new(f.name(), delta_type(f.data_type()), true)).collect::<Vec<_>>(),
    ))
}

/// `batches` cast to `schema` (column by column, by position).
fn conform(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let arrow = |e: arrow::error::ArrowError| Error::Query {
        context: "converting entity rows".into(),
        source: datafusion::error::DataFusionError::ArrowError(Box::new(e), None),
    };
    let mut out = Vec::with_capacity(batches.len().max(1));
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        let mut columns = Vec::with_capacity(b.num_columns());
        for (c, f) in b.columns().iter().zip(schema.fields()) {
            columns.push(if c.data_type() == f.data_type() {
                c.clone()
            } else {
                cast(c, f.data_type()).map_err(arrow)?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        out.push(RecordBatch::try_new_with_options(schema.clone(), columns, &options).map_err(arrow)?);
    }
    if out.is_empty() {
        out.push(RecordBatch::new_empty(schema.clone()));
    }
    Ok(out)
}

impl Engine {
    /// The location of entity table `name`.
    pub fn entity_url(&self, name: &str) -> url::Url {
        self.table_url(&format!("{ENTITIES_DIR}/{name}"))
    }

    /// The names of the entity tables, in maintenance order.
    pub fn entity_names(&self) -> impl Iterator<Item = &str> {
        self.entities.iter().map(|d| d.name.as_str())
    }

    /// The store under `<lake>/entities/` that holds the manifest (made once per engine).
    fn manifest_store(&self) -> Result<Arc<dyn ObjectStore>> {
        if let Some(s) = self.manifest_store.get() {
            return Ok(s.clone());
        }
        let url = self.table_url(ENTITIES_DIR);
        let store: Arc<dyn ObjectStore> = deltalake::logstore::store_for(&url, std::iter::empty::<(String, String)>())
            .map_err(|source| Error::Lake { table: ENTITIES_DIR.into(), source })?;
        Ok(self.manifest_store.get_or_init(|| store).clone())
    }

    fn manifest_error(e: object_store::Error) -> Error {
        Error::Lake { table: format!("{ENTITIES_DIR}/{MANIFEST_DIR}"), source: e.into() }
    }

    /// The latest manifest state: the events version the entity tables reflect, and their versions.
    pub(crate) async fn entities_latest(&self) -> Result<Option<(u64, TableVersions)>> {
        let store = self.manifest_store()?;
        let mut m = self.manifest.lock().await;
        m.refresh(store.as_ref()).await.map_err(Engine::manifest_error)?;
        m.latest(store.as_ref()).await.map_err(Engine::manifest_error)
    }

    /// The entity tables' versions for events version `v`, when a pass
    /// brought them exactly there and every entity of this engine is listed.
    pub(crate) async fn entities_at(&self, v: u64) -> Result<Option<TableVersions>> {
        let store = self.manifest_store()?;
        let mut m = self.manifest.lock().await;
        m.refresh(store.as_ref()).await.map_err(Engine::manifest_error)?;
        let state = m.state(store.as_ref(), v).await.map_err(Engine::manifest_error)?;
        Ok(state.filter(|t| self.entities.iter().all(|d| t.current(d))))
    }

    /// Record `state` as the entity tables at `events_version`.
    async fn record_entities(&self, events_version: u64, state: &TableState) -> Result<()> {
        let store = self.manifest_store()?;
        put_manifest(store.as_ref(), events_version, state).await.map_err(Engine::manifest_error)
    }

    /// The events version the entity tables reflect (`None`: never built).
    pub async fn entities_version(&self) -> Result<Option<u64>> {
        Ok(self.entities_latest().await?.map(|(v, _)| v))
    }

    /// Entity table `name`, at `version` or its latest.
    pub(crate) async fn load_entity(&self, name: &str, version: Option<u64>) -> Result<DeltaTable> {
        if let Some(v) = version {
            return self.load_table(&format!("{ENTITIES_DIR}/{name}"), AsOf::Version(v)).await;
        }
        // The latest version is what a pass writes on: a local directory is made when missing.
        let lake = |source| Error::Lake { table: format!("{ENTITIES_DIR}/{name}"), source };
        let url = self.entity_url(name);
        if let Some(path) = url_path(url.as_str()) {
            std::fs::create_dir_all(&path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        }
        let builder = DeltaTableBuilder::from_url(url).map_err(lake)?;
        let mut table = builder.build().map_err(lake)?;
        // Probe first: loading a table that is not there makes the Delta kernel log an error.
        if table.verify_deltatable_existence().await.map_err(lake)? {
            table.load().await.map_err(lake)?;
        }
        Ok(table)
    }

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
            });
        }
        let new = match from {
            Some(f) => self.new_events(f, &events).await?,
            None => None,
        };
        let new = new.filter(|n| n.rows <= REBUILD_ABOVE_EVENTS);
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
                .sql_with_options(&def.sql, crate::run::read_only())
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
    /// After a pass that took longer than `poll`, the next check waits as
    /// long as the pass took: maintenance takes at most about half of the
    /// time, so a flood of events (whose passes rebuild whole tables) does not
    /// starve the ingest that commits them; the tables then lag further and
    /// catch up when the flood ends. A steady stream's passes are shorter
    /// than `poll` and keep it.
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
                        match self.maintain_entities(MaintainOptions::default()).await {
                            Ok(_) => self.failed_passes.store(0, Ordering::Relaxed),
                            Err(e) => {
                                let n = self.failed_passes.fetch_add(1, Ordering::Relaxed) + 1;
                                warn!(error = %e.chain(), failed_in_a_row = n, "entity maintenance pass failed; retrying");
                            }
                        }
                        let took = started.elapsed();
                        if took > poll {
                            tick.reset_after(took);
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
    /// record the compacted versions in the manifest for the same events version.
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
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entity_lines_and_event_types_are_read_from_the_views() {
        let defs = entity_defs(&crate::sqlfiles::embedded_views()).unwrap();
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert!(names.contains(&"orders_core"), "{names:?}");
        assert!(!names.contains(&"orders"), "orders is computed at read time");
        let heads = defs.iter().find(|d| d.name == "order_heads").unwrap();
        assert_eq!(heads.key, "order_id");
        assert!(heads.follows.contains(&("sites".into(), "site_id".into())));
        let reads: Vec<&str> = heads.reads.iter().map(String::as_str).collect();
        assert_eq!(reads, vec!["order_openings", "products", "sites"]);
        assert!(!heads.reads_events, "order_heads reads entity views only");
        let core = defs.iter().find(|d| d.name == "orders_core").unwrap();
        for r in ["order_heads", "order_entitlements", "calendars", "pauses"] {
            assert!(core.reads.contains(r), "orders_core reads {r}: {:?}", core.reads);
        }
        assert!(core.reads_events);
        let customers = defs.iter().find(|d| d.name == "customers").unwrap();
        assert_eq!(customers.types.as_ref().unwrap().iter().collect::<Vec<_>>(), vec!["customer_registered"]);
        let types = core.types.as_ref().unwrap();
        assert!(types.contains("priority_changed") && types.contains("order_reopened"));
        assert!(!types.contains("waiting_for_customer"), "a pause reason is not an event type");
    }

    #[test]
    fn a_follow_of_an_unknown_view_is_refused() {
        let v = SqlFile {
            name: "x".into(),
            file: "x.sql".into(),
            body: "-- entity: key=order_id follows=nothing.order_id\nSELECT 1".into(),
        };
        assert!(entity_defs(&[v]).is_err());
    }

    /// A view file `name` (file `name.sql`) with `body`.
    fn view(name: &str, body: &str) -> SqlFile {
        SqlFile { name: name.into(), file: format!("{name}.sql"), body: body.into() }
    }

    /// The message of the refusal of `views` (which must be refused as a bad SQL file).
    fn refusal(views: &[SqlFile]) -> String {
        match entity_defs(views) {
            Err(Error::SqlFile { message, .. }) => message,
            other => panic!("expected a bad SQL file, got {other:?}"),
        }
    }

    #[test]
    fn an_entity_view_that_calls_fh_now_is_refused() {
        let clocked =
            view("late_orders", "-- entity: key=order_id\nSELECT order_id, occurred_at < FH_Now() AS late FROM events");
        let message = refusal(&[clocked]);
        assert!(message.contains("`late_orders`") && message.contains("fh_now()"), "{message}");
        // Named in a comment or a string it is no call; a view without `-- entity:` may call it.
        let commented =
            view("a", "-- entity: key=order_id\n-- not at fh_now()\nSELECT order_id, 'fh_now()' AS s FROM events");
        let plain = view("b", "SELECT a.*, fh_now() AS now FROM a");
        entity_defs(&[commented, plain]).unwrap();
    }

    #[test]
    fn an_entity_view_follows_every_view_it_reads() {
        let sites = view("sites", "-- entity: key=site_id\nSELECT site_id, region FROM events");
        let site_list = view("site_list", "SELECT * FROM sites");
        // An entity view it does not follow (named in another case).
        let unfollowed = view(
            "heads",
            "-- entity: key=order_id\nSELECT e.order_id, s.region FROM events e JOIN Sites s ON e.site_id = s.site_id",
        );
        let message = refusal(&[sites.clone(), site_list.clone(), unfollowed]);
        assert!(message.contains("`heads`") && message.contains("`sites.COLUMN`"), "{message}");
        // A view that is no entity view (in a subquery).
        let reads_plain = view(
            "heads",
            "-- entity: key=order_id follows=sites.site_id\n\
             SELECT order_id FROM events WHERE site_id IN (SELECT site_id FROM site_list)",
        );
        let message = refusal(&[sites.clone(), site_list.clone(), reads_plain]);
        assert!(message.contains("`heads`") && message.contains("`site_list`"), "{message}");
        // Followed; a CTE named like a view; `events` in capitals; a name that is no view: accepted.
        let ok = view(
            "heads",
            "-- entity: key=order_id follows=sites.site_id\n\
             WITH site_list AS (SELECT order_id, site_id FROM EVENTS)\n\
             SELECT o.order_id, s.region FROM site_list o JOIN sites s ON o.site_id = s.site_id \
             LEFT JOIN elsewhere x ON o.order_id = x.order_id",
        );
        let defs = entity_defs(&[sites, site_list, ok]).unwrap();
        assert_eq!(defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), vec!["sites", "heads"]);
    }

    #[test]
    fn the_built_in_entity_views_keep_the_rules() {
        let on_disk =
            crate::sqlfiles::read_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/views")).unwrap();
        for views in [crate::sqlfiles::embedded_views(), on_disk] {
            let defs = entity_defs(&views).unwrap();
            // orders_core names fh_now() in its comments only; orders calls it, and is no entity view.
            assert!(defs.iter().any(|d| d.name == "orders_core"));
            assert!(views.iter().any(|v| v.name == "orders" && v.body.contains("fh_now()")));
        }
        // The rules run on the real SQL: orders_core without its follow of pauses is refused.
        let mut views = crate::sqlfiles::embedded_views();
        let core = views.iter_mut().find(|v| v.name == "orders_core").unwrap();
        assert!(core.body.contains(",pauses.order_id"));
        core.body = core.body.replace(",pauses.order_id", "");
        let message = refusal(&views);
        assert!(message.contains("`orders_core`") && message.contains("`pauses.COLUMN`"), "{message}");
    }

    #[test]
    fn a_comment_edit_keeps_the_digest_and_a_code_edit_changes_it() {
        let digest = |body: &str| {
            let sites = view("sites", "-- entity: key=site_id\nSELECT site_id FROM events");
            let heads = view("heads", body);
            entity_defs(&[sites, heads]).unwrap().pop().unwrap().digest
        };
        let base = digest("-- entity: key=order_id\n-- One row per order.\nSELECT order_id FROM events");
        // Comments (above, at a line's end) and whitespace: the same tables.
        let edited = digest(
            "-- Orders, one row each (reworded).\n-- entity: key=order_id\nSELECT order_id   -- the key\n  FROM events",
        );
        assert_eq!(base, edited);
        // The code, or the entity line: other tables.
        assert_ne!(
            base,
            digest("-- entity: key=order_id\n-- One row per order.\nSELECT DISTINCT order_id FROM events")
        );
        assert_ne!(
            base,
            digest("-- entity: key=order_id follows=sites.site_id\n-- One row per order.\nSELECT order_id FROM events")
        );
    }

    #[tokio::test]
    async fn the_manifest_gives_the_newest_state_of_each_version_and_reads_only_new_keys() {
        use object_store::local::LocalFileSystem;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let t = |v: &[(&str, u64)]| TableState {
            tables: v.iter().map(|(k, n)| ((*k).to_string(), *n)).collect(),
            sql: BTreeMap::new(),
        };
        let mut m = Manifest::default();
        m.refresh(&store).await.unwrap();
        assert!(m.latest(&store).await.unwrap().is_none(), "no manifest yet");
        put_manifest(&store, 3, &t(&[("a", 1), ("b", 1)])).await.unwrap();
        put_manifest(&store, 5, &t(&[("a", 1), ("b", 2)])).await.unwrap();
        // Not a manifest object (a stray file): skipped.
        std::fs::write(dir.path().join(MANIFEST_DIR).join("notes.txt"), "x").unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.latest(&store).await.unwrap().unwrap().0, 5);
        assert_eq!(m.state(&store, 3).await.unwrap().unwrap().tables, t(&[("a", 1), ("b", 1)]).tables);
        assert!(m.state(&store, 4).await.unwrap().is_none());
        // A compaction records new table versions for the same events version: the newer object wins.
        put_manifest(&store, 5, &t(&[("a", 2), ("b", 2)])).await.unwrap();
        put_manifest(&store, 6, &t(&[("a", 3), ("b", 2)])).await.unwrap();
        m.refresh(&store).await.unwrap();
        assert_eq!(m.state(&store, 5).await.unwrap().unwrap().tables, t(&[("a", 2), ("b", 2)]).tables);
        assert_eq!(m.latest(&store).await.unwrap().unwrap().1.tables, t(&[("a", 3), ("b", 2)]).tables);
        // A fresh reader sees the same.
        let mut fresh = Manifest::default();
        fresh.refresh(&store).await.unwrap();
        assert_eq!(fresh.keys, m.keys);
    }
}
