//! KPI answers cached per lake version.
//!
//! [`KpiCache::run`] answers a [`KpiRequest`] for a [`Caller`] from memory
//! when the same request was computed for the same caller scope at the lake
//! version that is current now; otherwise it computes it (once, even when
//! many callers ask at the same moment) and keeps it.
//!
//! - Key: KPI name, parameters, dimensions, the reference instant if the
//!   request gives one, the caller's role and agent, and the **lake version**
//!   the answer was computed at. A request for the latest state resolves the
//!   current version first, so a new commit makes every older answer stale.
//! - A request for the latest state without an explicit `now` depends on the
//!   wall clock too (backlog ages, SLA states of open orders): such answers
//!   are reused for at most [`KpiCache::max_age`] (default 60 s), then
//!   recomputed even when the lake has not moved.
//! - Requests pinned to a version or an instant never go stale.
//! - Bounded by entry count and by the Arrow memory size of the answers;
//!   the least recently used answers go first. Failures are not cached.
//!
//! The API's KPI endpoints and the dashboard share one cache, so the
//! dashboard's first paint after the server warmed it (see [`KpiCache::warm`])
//! does not wait on a scan when nothing changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::Result;
use crate::run::{KpiRequest, collect, run_kpi};
use crate::scope::{Caller, Role};
use crate::session::{AsOf, Engine};

/// A computed KPI answer.
#[derive(Debug)]
pub struct CachedKpi {
    /// The lake (events table) version the answer was computed at.
    pub lake_version: i64,
    /// The answer's schema.
    pub schema: SchemaRef,
    /// The answer's rows.
    pub batches: Vec<RecordBatch>,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// How long the computation took.
    pub elapsed: Duration,
}

impl CachedKpi {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn memory_size(&self) -> usize {
        self.batches.iter().map(RecordBatch::get_array_memory_size).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    name: String,
    params: BTreeMap<String, String>,
    by: Vec<String>,
    /// The resolved lake version; for requests pinned to an instant, the instant too.
    version: i64,
    instant: Option<DateTime<Utc>>,
    now: Option<DateTime<Utc>>,
    role: Role,
    agent: Option<Uuid>,
}

#[derive(Debug)]
struct Slot {
    cell: Arc<OnceCell<Arc<CachedKpi>>>,
    /// Whether the answer depends on the wall clock (expires after `max_age`).
    wall_clock: bool,
    created: Instant,
    used: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<Key, Slot>,
}

/// Cache hits and misses since start, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
}

/// KPI answers per lake version; share one per process (`Arc<KpiCache>`).
#[derive(Debug)]
pub struct KpiCache {
    capacity: usize,
    max_bytes: usize,
    max_age: Duration,
    inner: Mutex<Inner>,
    stats: Mutex<(u64, u64)>,
    /// Computations running at once (the others wait their turn).
    computing: tokio::sync::Semaphore,
}

impl Default for KpiCache {
    fn default() -> Self {
        KpiCache::new(512)
    }
}

impl KpiCache {
    /// A cache of at most `capacity` answers (and 256 MiB of them), wall-clock
    /// answers reused for 60 s.
    pub fn new(capacity: usize) -> KpiCache {
        KpiCache {
            capacity: capacity.max(1),
            max_bytes: 256 << 20,
            max_age: Duration::from_secs(60),
            inner: Mutex::new(Inner::default()),
            stats: Mutex::new((0, 0)),
            computing: tokio::sync::Semaphore::new(1),
        }
    }

    /// Let at most `n` KPI computations run at once (default 1; others wait).
    /// Each computation already uses every core, and computations at once
    /// share one memory pool: several concurrent ones on the same views were
    /// seen to exhaust it (`query_too_large`) where one after the other pass.
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> KpiCache {
        self.computing = tokio::sync::Semaphore::new(n.max(1));
        self
    }

    /// Reuse answers that depend on the wall clock for at most `max_age`.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> KpiCache {
        self.max_age = max_age;
        self
    }

    /// Keep at most `max_bytes` of answers (Arrow memory size).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> KpiCache {
        self.max_bytes = max_bytes;
        self
    }

    /// How long an answer that depends on the wall clock is reused.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Hits, misses, entries and bytes held.
    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = *self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let inner = self.lock();
        let bytes = inner.slots.values().filter_map(|s| s.cell.get()).map(|k| k.memory_size()).sum();
        CacheStats { hits, misses, entries: inner.slots.len(), bytes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to `request` for `caller`, from the cache when it is
    /// current, else computed (once for concurrent identical requests).
    pub async fn run(&self, engine: &Engine, request: &KpiRequest, caller: &Caller) -> Result<Arc<CachedKpi>> {
        // Refuse before touching the lake: unknown KPI, audience.
        let def = engine.catalog().get(&request.name)?;
        if !def.allows(caller.role) {
            return Err(crate::Error::Forbidden {
                message: format!("role `{}` may not read KPI `{}`", caller.role, def.name),
            });
        }
        let (version, instant, wall_clock) = match request.session.as_of {
            AsOf::Latest => (engine.lake_version().await?, None, request.session.now.is_none()),
            AsOf::Version(v) => (i64::try_from(v).unwrap_or(i64::MAX), None, false),
            AsOf::Timestamp(t) => (-1, Some(t), false),
        };
        let key = Key {
            name: request.name.clone(),
            params: request.params.clone(),
            by: request.by.clone(),
            version,
            instant,
            now: request.session.now,
            role: caller.role,
            agent: caller.agent_id,
        };
        let cell = {
            let mut inner = self.lock();
            let now = Instant::now();
            let expired =
                inner.slots.get(&key).is_some_and(|s| s.wall_clock && now.duration_since(s.created) > self.max_age);
            if expired {
                inner.slots.remove(&key);
            }
            let slot = inner.slots.entry(key.clone()).or_insert_with(|| Slot {
                cell: Arc::new(OnceCell::new()),
                wall_clock,
                created: now,
                used: now,
            });
            slot.used = now;
            slot.cell.clone()
        };
        let hit = cell.initialized();
        {
            let mut s = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            if hit { s.0 += 1 } else { s.1 += 1 }
        }
        let answer = cell
            .get_or_try_init(|| async {
                let mut pinned = request.clone();
                if let AsOf::Latest = pinned.session.as_of {
                    // Compute exactly the version the key names; the reference
                    // instant stays the wall clock, as for an uncached latest read.
                    pinned.session.as_of = AsOf::Version(u64::try_from(version).unwrap_or(0));
                    pinned.session.now = Some(pinned.session.now.unwrap_or_else(Utc::now));
                }
                let _turn = self.computing.acquire().await.map_err(|_| crate::Error::Query {
                    context: "waiting for a computation slot".into(),
                    source: datafusion::error::DataFusionError::Execution("the KPI cache is closed".into()),
                })?;
                let started = Instant::now();
                let stream = run_kpi(engine, &pinned, caller).await?;
                let schema = stream.schema();
                let batches = collect(stream).await?;
                Ok::<_, crate::Error>(Arc::new(CachedKpi {
                    lake_version: version,
                    schema,
                    batches,
                    computed_at: Utc::now(),
                    elapsed: started.elapsed(),
                }))
            })
            .await;
        match answer {
            Ok(a) => {
                self.evict(&key);
                Ok(a.clone())
            }
            Err(e) => {
                // Do not keep an empty slot for a failed computation.
                let mut inner = self.lock();
                if inner.slots.get(&key).is_some_and(|s| !s.cell.initialized()) {
                    inner.slots.remove(&key);
                }
                Err(e)
            }
        }
    }

    /// Compute `requests` for `caller` now so that later readers hit the
    /// cache; errors are logged, not returned.
    pub async fn warm(&self, engine: &Engine, requests: &[KpiRequest], caller: &Caller) {
        for r in requests {
            if let Err(e) = self.run(engine, r, caller).await {
                tracing::warn!(kpi = %r.name, error = %e, "warming the KPI cache");
            }
        }
    }

    /// Drop answers of older lake versions for the same request, then the
    /// least recently used beyond the bounds; never `keep`.
    fn evict(&self, keep: &Key) {
        let mut inner = self.lock();
        inner.slots.retain(|k, s| {
            k == keep
                || !s.cell.initialized()
                || !(k.instant.is_none()
                    && k.version < keep.version
                    && k.name == keep.name
                    && k.params == keep.params
                    && k.by == keep.by
                    && k.role == keep.role
                    && k.agent == keep.agent
                    && k.now == keep.now)
        });
        loop {
            let bytes: usize = inner.slots.values().filter_map(|s| s.cell.get()).map(|k| k.memory_size()).sum();
            if inner.slots.len() <= self.capacity && bytes <= self.max_bytes {
                break;
            }
            let oldest = inner
                .slots
                .iter()
                .filter(|(k, s)| *k != keep && s.cell.initialized())
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    inner.slots.remove(&k);
                }
                None => break,
            }
        }
    }
}
