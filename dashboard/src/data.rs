//! KPI answers for the pages, stale-while-revalidate over the shared
//! [`KpiCache`](fieldhouse_engine::cache::KpiCache).
//!
//! The engine's cache keeps an answer while the lake version stays, but an
//! answer that depends on the wall clock (SLA states of open orders, ages)
//! only for its `max_age`. The dashboard keeps the last answer per request
//! and caller scope too: when the lake version is still the one that answer
//! was computed at, the page is drawn from it at once, and an answer older
//! than `max_age` is recomputed in the background for the next paint. After
//! a commit, an answer of the older version that was still the newest at
//! most [`max_stale`](crate::DashboardState::max_stale) ago, or whose
//! refresh is under way, is drawn too (the section says which lake version
//! it shows) while the newest is computed in the background. So a page never
//! waits on a scan when nothing changed or commits stream in, however far
//! apart the commits are; it waits only when nobody asked for the answer for
//! longer than `max_stale` before a commit (a pause), or for a request never
//! seen since the process started.
//!
//! The store is process-wide (keyed by lake directory too), so that
//! [`warm`](crate::warm) at server start fills what the router reads.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fieldhouse_engine::cache::CachedKpi;
use fieldhouse_engine::{Caller, KpiRequest, Role, SqlLimits};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::DashboardState;

/// One result row, column name → JSON value (as arrow's JSON writer gives it).
pub(crate) type Row = Map<String, Value>;

/// A KPI answer as rows.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) rows: Arc<Vec<Row>>,
    pub(crate) lake_version: i64,
    pub(crate) computed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    lake: PathBuf,
    name: String,
    params: BTreeMap<String, String>,
    by: Vec<String>,
    role: Role,
    agent: Option<Uuid>,
}

#[derive(Debug)]
struct Entry {
    answer: Answer,
    stored: Instant,
    /// When the answer was last known to be of the newest version: stored,
    /// or a page found it so.
    newest_at: Instant,
    refreshing: bool,
}

/// At most this many answers are kept (the oldest go first).
const CAPACITY: usize = 2048;

fn store() -> &'static Mutex<HashMap<Key, Entry>> {
    static STORE: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();
    STORE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn key(state: &DashboardState, request: &KpiRequest, caller: &Caller) -> Key {
    Key {
        lake: state.engine.config().data_dir.clone(),
        name: request.name.clone(),
        params: request.params.clone(),
        by: request.by.clone(),
        role: caller.role,
        agent: caller.agent_id,
    }
}

fn put(key: Key, answer: Answer) {
    let mut map = store().lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= CAPACITY && !map.contains_key(&key) {
        let oldest = map.iter().min_by_key(|(_, e)| e.stored).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            map.remove(&k);
        }
    }
    let now = Instant::now();
    map.insert(key, Entry { answer, stored: now, newest_at: now, refreshing: false });
}

/// The answer to `request` for `caller` at lake version `version` (what the
/// page resolved once for all its sections).
pub(crate) async fn fetch(
    state: &DashboardState,
    request: &KpiRequest,
    caller: &Caller,
    version: i64,
) -> fieldhouse_engine::Result<Answer> {
    let key = key(state, request, caller);
    let fresh = {
        let mut map = store().lock().unwrap_or_else(PoisonError::into_inner);
        map.get_mut(&key).and_then(|e| {
            if e.answer.lake_version >= version {
                e.newest_at = Instant::now();
            }
            let ages = Ages { stored: e.stored.elapsed(), outdated: e.newest_at.elapsed() };
            match shown(e.answer.lake_version, version, ages, e.refreshing, state.max_stale, state.cache.max_age()) {
                Shown::Wait => None,
                Shown::Stored { refresh } => {
                    e.refreshing |= refresh;
                    Some((e.answer.clone(), refresh))
                }
            }
        })
    };
    if let Some((answer, refresh)) = fresh {
        if refresh {
            let (state, request, caller, key) = (state.clone(), request.clone(), caller.clone(), key.clone());
            tokio::spawn(async move {
                match state.cache.run(&state.engine, &request, &caller).await {
                    Ok(a) => put(key, to_answer(&a)),
                    Err(e) => {
                        tracing::warn!(kpi = %request.name, error = %e.chain(), "refreshing a dashboard answer");
                        if let Some(entry) = store().lock().unwrap_or_else(PoisonError::into_inner).get_mut(&key) {
                            entry.refreshing = false;
                        }
                    }
                }
            });
        }
        return Ok(answer);
    }
    let started = Instant::now();
    let a = state.cache.run(&state.engine, request, caller).await?;
    tracing::debug!(kpi = %request.name, version, ms = started.elapsed().as_millis(), "a dashboard section waited for its answer");
    let answer = to_answer(&a);
    put(key, answer.clone());
    Ok(answer)
}

/// What a page does with a stored answer.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    /// Draw it; `refresh`: start computing the newest in the background.
    Stored { refresh: bool },
    /// Compute the newest and wait for it.
    Wait,
}

/// How old a stored answer is.
#[derive(Debug, Clone, Copy)]
struct Ages {
    /// Since it was computed (against `max_age`).
    stored: Duration,
    /// Since it was last known to be of the newest version (against `max_stale`).
    outdated: Duration,
}

/// Whether a stored answer of lake version `stored_version` is drawn for a
/// page at lake version `version`: when it is of that version; else (under
/// a stream of commits the version moves every few seconds: waiting for it
/// would make every page wait on a scan) when it was still the newest at
/// most `max_stale` ago, or while a refresh of it is under way.
///
/// The age that counts is since the answer was last known newest, not since
/// it was computed: when the versions came more than `max_stale` apart (a
/// loaded server: passes of 8 s and more), every answer was older than
/// `max_stale` when the next version came, and all 8 pages of `bench/live`
/// waited 1.4-2.5 s together at each such version. And while refreshes
/// queue behind other computations, the pages do not wait for a computation
/// of their own in the same queue (8 pages at once took 6.9 s). Only after a
/// pause (nobody found the answer newest within `max_stale`, nothing
/// refreshing) does a page wait; `max_stale` 0: always, for an answer of an
/// older version. A drawn answer of an older version, or computed more than
/// `max_age` ago, starts a refresh unless one runs.
fn shown(
    stored_version: i64,
    version: i64,
    ages: Ages,
    refreshing: bool,
    max_stale: Duration,
    max_age: Duration,
) -> Shown {
    let current = stored_version >= version;
    if !current && (max_stale.is_zero() || (ages.outdated > max_stale && !refreshing)) {
        return Shown::Wait;
    }
    let stale = !current || ages.stored > max_age;
    Shown::Stored { refresh: stale && !refreshing }
}

fn to_answer(a: &CachedKpi) -> Answer {
    Answer { rows: Arc::new(to_rows(&a.batches)), lake_version: a.lake_version, computed_at: a.computed_at }
}

/// Batches as JSON rows.
pub(crate) fn to_rows(batches: &[arrow::array::RecordBatch]) -> Vec<Row> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        if w.write(b).is_err() {
            return Vec::new();
        }
    }
    if w.finish().is_err() {
        return Vec::new();
    }
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<Row>>(&bytes).unwrap_or_default()
}

/// Labels and choices for the filters: regions, products, agents, parts, as
/// far as the caller may see them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub(crate) regions: Vec<String>,
    /// (id, label), sorted by label.
    pub(crate) products: Vec<(String, String)>,
    pub(crate) agents: Vec<(String, String)>,
    pub(crate) parts: HashMap<String, String>,
}

impl Names {
    pub(crate) fn agent(&self, id: &str) -> String {
        self.agents.iter().find(|(i, _)| i == id).map(|(_, l)| l.clone()).unwrap_or_else(|| short_id(id))
    }

    pub(crate) fn part(&self, id: &str) -> String {
        self.parts.get(id).cloned().unwrap_or_else(|| short_id(id))
    }
}

/// The last block of a UUID (the random part of a UUIDv7, whose first
/// blocks are a timestamp), enough to tell rows apart on screen.
pub(crate) fn short_id(id: &str) -> String {
    id.rsplit('-').next().unwrap_or(id).to_string()
}

const NAMES_SQL: &str = "
SELECT 'region' AS kind, CAST(region AS VARCHAR) AS id, CAST(region AS VARCHAR) AS label
  FROM sites WHERE region IS NOT NULL GROUP BY region
UNION ALL SELECT 'product', CAST(product_id AS VARCHAR), CAST(model AS VARCHAR) FROM products
UNION ALL SELECT 'agent', CAST(agent_id AS VARCHAR), CAST(name AS VARCHAR) FROM agents
UNION ALL SELECT 'part', CAST(part_id AS VARCHAR), CAST(part_number AS VARCHAR) FROM parts
";

type NamesKey = (PathBuf, Option<Uuid>);

/// The names last loaded per lake and scope: at which lake version, and
/// whether a newer load is under way.
#[derive(Debug)]
struct KnownNames {
    version: i64,
    names: Arc<Names>,
    refreshing: bool,
}

fn names_store() -> &'static Mutex<HashMap<NamesKey, KnownNames>> {
    static NAMES: OnceLock<Mutex<HashMap<NamesKey, KnownNames>>> = OnceLock::new();
    NAMES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The names the caller may see at lake `version`: loaded once per version
/// and scope. Names change seldom, so after a commit the ones of an older
/// version are used while the newest are loaded in the background (a load
/// is a query: under a stream of commits every page would wait on it).
pub(crate) async fn names(state: &DashboardState, caller: &Caller, version: i64) -> Names {
    let key = (state.engine.config().data_dir.clone(), caller.agent_id);
    let known = {
        let mut map = names_store().lock().unwrap_or_else(PoisonError::into_inner);
        map.get_mut(&key).map(|k| {
            let refresh = k.version < version && !k.refreshing;
            k.refreshing |= refresh;
            ((*k.names).clone(), refresh)
        })
    };
    match known {
        Some((names, refresh)) => {
            if refresh {
                let (state, caller) = (state.clone(), caller.clone());
                tokio::spawn(async move { load_and_keep(&state, &caller, version).await });
            }
            names
        }
        None => load_and_keep(state, caller, version).await,
    }
}

/// Load the names and keep them as those of `version`.
async fn load_and_keep(state: &DashboardState, caller: &Caller, version: i64) -> Names {
    let key = (state.engine.config().data_dir.clone(), caller.agent_id);
    let loaded = load_names(state, caller).await;
    let mut map = names_store().lock().unwrap_or_else(PoisonError::into_inner);
    match loaded {
        Ok(names) => {
            if map.len() > 256 && !map.contains_key(&key) {
                map.clear();
            }
            let newer = map.get(&key).is_some_and(|k| k.version > version);
            if !newer {
                map.insert(key, KnownNames { version, names: Arc::new(names.clone()), refreshing: false });
            }
            names
        }
        Err(e) => {
            tracing::warn!(error = %e, "loading filter names");
            if let Some(k) = map.get_mut(&key) {
                k.refreshing = false;
                return (*k.names).clone();
            }
            Names::default()
        }
    }
}

async fn load_names(state: &DashboardState, caller: &Caller) -> fieldhouse_engine::Result<Names> {
    let stream =
        fieldhouse_engine::run_sql(&state.engine, NAMES_SQL, caller, SqlLimits::default(), &Default::default()).await?;
    let rows = to_rows(&fieldhouse_engine::collect(stream).await?);
    let mut n = Names::default();
    for r in rows {
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(kind), Some(id)) = (text("kind"), text("id")) else { continue };
        let label = text("label").unwrap_or_else(|| short_id(&id));
        match kind.as_str() {
            "region" => n.regions.push(id),
            "product" => n.products.push((id, label)),
            "agent" => n.agents.push((id, label)),
            _ => {
                n.parts.insert(id, label);
            }
        }
    }
    n.regions.sort();
    n.products.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    n.agents.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(n)
}

/// A number from a row (arrow's JSON writer gives decimals as text).
pub(crate) fn num(row: &Row, key: &str) -> Option<f64> {
    match row.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Text from a row.
pub(crate) fn text(row: &Row, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: Duration = Duration::from_secs(10);
    const AGE: Duration = Duration::from_secs(60);

    #[test]
    fn a_stored_answer_is_drawn_unless_it_is_old_and_nothing_refreshes_it() {
        let s = Duration::from_secs;
        // Computed and last known newest `age` ago.
        let ages = |age| Ages { stored: s(age), outdated: s(age) };
        let shown = |stored, age, refreshing| shown(stored, 7, ages(age), refreshing, STALE, AGE);
        // The page's version: drawn; refreshed only past max_age.
        assert_eq!(shown(7, 5, false), Shown::Stored { refresh: false });
        assert_eq!(shown(7, 61, false), Shown::Stored { refresh: true });
        assert_eq!(shown(7, 61, true), Shown::Stored { refresh: false }, "one refresh at a time");
        // An older version: drawn within max_stale, the newest computed beside it.
        assert_eq!(shown(6, 5, false), Shown::Stored { refresh: true });
        assert_eq!(shown(6, 5, true), Shown::Stored { refresh: false });
        // Older than max_stale: drawn while its refresh runs, however long it takes ...
        assert_eq!(shown(6, 30, true), Shown::Stored { refresh: false });
        // ... else (after a pause) the page waits for the newest.
        assert_eq!(shown(6, 30, false), Shown::Wait);
        // max_stale 0: an older version is never drawn.
        assert_eq!(super::shown(6, 7, ages(0), true, Duration::ZERO, AGE), Shown::Wait);
    }

    #[test]
    fn an_answer_newest_until_just_now_is_drawn_however_long_ago_it_was_computed() {
        let s = Duration::from_secs;
        let shown =
            |stored, outdated| super::shown(6, 7, Ages { stored: s(stored), outdated: s(outdated) }, false, STALE, AGE);
        // Versions 30 s apart: computed 30 s ago, newest until a second ago: drawn, refreshed.
        assert_eq!(shown(30, 1), Shown::Stored { refresh: true });
        // Nobody saw it newest for longer than max_stale: the page waits.
        assert_eq!(shown(30, 11), Shown::Wait);
    }
}
