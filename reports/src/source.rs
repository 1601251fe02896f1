//! Where reports get their numbers: the [`KpiSource`] trait (the KPI engine
//! implements it through an adapter), and [`MemorySource`], a source over
//! hand-made batches for tests and demos.

use std::collections::BTreeMap;
use std::sync::Mutex;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use crate::{Error, Result};

/// Parameters of one KPI run: the half-open interval `[from, to)`, the
/// dimensions to group by, filters, and the zone that local dates (weeks,
/// months) are read in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiParams {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `from` and `to` as local dates in `time_zone` (`to_date` exclusive).
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub by: Vec<String>,
    pub filters: BTreeMap<String, String>,
    pub time_zone: Tz,
}

/// A KPI engine as reports see it. Every run is pinned to a lake version so a
/// report can be reproduced; `agent` scopes rows to one service agent (the
/// engine enforces it, as for a partner caller).
#[async_trait]
pub trait KpiSource: Send + Sync {
    /// The lake's current version; a report records it and runs as of it.
    async fn lake_version(&self) -> Result<i64>;

    /// Run KPI `kpi` as of lake version `as_of_version`.
    async fn run(
        &self,
        kpi: &str,
        params: &KpiParams,
        agent: Option<Uuid>,
        as_of_version: i64,
    ) -> Result<Vec<RecordBatch>>;

    /// The service agents known at `as_of_version` (for per-agent reports).
    async fn agents(&self, as_of_version: i64) -> Result<Vec<Uuid>>;
}

/// A [`KpiSource`] over hand-made batches.
///
/// A KPI's rows come from the batch registered for `(kpi, by)`, else for
/// `kpi` alone. Rows are then scoped: a batch with a UTF-8 `agent_id` column
/// keeps only the caller agent's rows; a batch with a `Date32` column named
/// `day` keeps only rows whose day falls in `[from_date, to_date)`.
#[derive(Debug, Default)]
pub struct MemorySource {
    version: i64,
    tables: BTreeMap<(String, String), RecordBatch>,
    agents: Vec<Uuid>,
    failures: Mutex<BTreeMap<String, u32>>,
}

impl MemorySource {
    /// An empty source at lake version `version`.
    pub fn new(version: i64) -> MemorySource {
        MemorySource { version, ..MemorySource::default() }
    }

    /// Register the rows of `kpi` for grouping `by` (empty: any grouping).
    pub fn with_table(mut self, kpi: &str, by: &[&str], batch: RecordBatch) -> MemorySource {
        self.tables.insert((kpi.to_owned(), by.join(",")), batch);
        self
    }

    /// Register the agents per-agent reports iterate over.
    pub fn with_agents(mut self, agents: Vec<Uuid>) -> MemorySource {
        self.agents = agents;
        self
    }

    /// Make the next `times` runs of `kpi` fail.
    pub fn fail_next(&self, kpi: &str, times: u32) {
        if let Ok(mut f) = self.failures.lock() {
            f.insert(kpi.to_owned(), times);
        }
    }

    fn take_failure(&self, kpi: &str) -> bool {
        let Ok(mut f) = self.failures.lock() else { return false };
        match f.get_mut(kpi) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The rows this source answers for, synchronously (tests compare
    /// report CSVs against it).
    pub fn rows(&self, kpi: &str, params: &KpiParams, agent: Option<Uuid>) -> Result<RecordBatch> {
        let batch = self
            .tables
            .get(&(kpi.to_owned(), params.by.join(",")))
            .or_else(|| self.tables.get(&(kpi.to_owned(), String::new())))
            .ok_or_else(|| Error::Kpi { kpi: kpi.to_owned(), message: "no such KPI".into() })?;
        let n = batch.num_rows();
        let mut keep = vec![true; n];
        if let Some(agent) = agent {
            match batch.column_by_name("agent_id") {
                Some(col) if col.data_type() == &DataType::Utf8 => {
                    let col = col.as_string::<i32>();
                    let agent = agent.to_string();
                    for (i, k) in keep.iter_mut().enumerate() {
                        *k &= col.is_valid(i) && col.value(i) == agent;
                    }
                }
                // No agent column: nothing can be attributed to the agent.
                _ => keep.iter_mut().for_each(|k| *k = false),
            }
        }
        if let Some(col) = batch.column_by_name("day").filter(|c| c.data_type() == &DataType::Date32) {
            let col = col.as_primitive::<Date32Type>();
            let (from, to) = (params.from_date, params.to_date);
            for (i, k) in keep.iter_mut().enumerate() {
                let day = col.is_valid(i).then(|| col.value(i)).and_then(date32);
                *k &= day.is_some_and(|d| d >= from && d < to);
            }
        }
        Ok(arrow::compute::filter_record_batch(batch, &BooleanArray::from(keep))?)
    }
}

fn date32(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

#[async_trait]
impl KpiSource for MemorySource {
    async fn lake_version(&self) -> Result<i64> {
        Ok(self.version)
    }

    async fn run(
        &self,
        kpi: &str,
        params: &KpiParams,
        agent: Option<Uuid>,
        _as_of_version: i64,
    ) -> Result<Vec<RecordBatch>> {
        if self.take_failure(kpi) {
            return Err(Error::Kpi { kpi: kpi.to_owned(), message: "injected failure".into() });
        }
        Ok(vec![self.rows(kpi, params, agent)?])
    }

    async fn agents(&self, _as_of_version: i64) -> Result<Vec<Uuid>> {
        Ok(self.agents.clone())
    }
}
