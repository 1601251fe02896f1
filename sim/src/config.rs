//! What to simulate: presets and overrides, and the summary of a run.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A size preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// About 20 technicians over 3 months: a few thousand orders, for tests.
    Small,
    /// About 200 technicians over 12 months.
    Default,
    /// About 2,000 technicians over 24 months: tens of millions of events, for benchmarks.
    Large,
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Size, String> {
        match s {
            "small" => Ok(Size::Small),
            "default" => Ok(Size::Default),
            "large" => Ok(Size::Large),
            _ => Err(format!("`{s}` is not one of small, default, large")),
        }
    }
}

/// Everything that determines a simulation. Same config → identical event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub seed: u64,
    /// First simulated day (00:00 UTC).
    pub start: NaiveDate,
    pub months: u32,
    pub technicians: u32,
    /// Installed units per technician (sets the order volume per technician).
    pub units_per_technician: u32,
    /// Share of technicians whose actions go through the mobile-sync path.
    pub mobile_share: f64,
}

impl SimConfig {
    /// The preset's values with seed 42 and start 2026-01-01.
    pub fn preset(size: Size) -> SimConfig {
        let (technicians, months) = match size {
            Size::Small => (20, 3),
            Size::Default => (200, 12),
            Size::Large => (2000, 24),
        };
        SimConfig {
            seed: 42,
            start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            months,
            technicians,
            units_per_technician: 330,
            mobile_share: 0.4,
        }
    }

    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config { message: m.to_string() });
        if self.technicians < 4 {
            return bad("at least 4 technicians are needed (one per region group)");
        }
        if self.months == 0 || self.months > 120 {
            return bad("months must be between 1 and 120");
        }
        if self.units_per_technician == 0 {
            return bad("units_per_technician must be positive");
        }
        if !(0.0..=1.0).contains(&self.mobile_share) {
            return bad("mobile_share must be between 0 and 1");
        }
        Ok(())
    }

    /// The first instant after the simulated period.
    pub fn end(&self) -> NaiveDate {
        self.start.checked_add_months(chrono::Months::new(self.months)).unwrap_or(self.start)
    }
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig::preset(Size::Default)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSummary {
    /// Operations sent to the operational core (mobile batches count once).
    pub operations: u64,
    /// Operations the core refused (the run goes on; should be zero).
    pub refused: u64,
    /// Refusals by operation, with the first message seen.
    pub refusals: std::collections::BTreeMap<String, (u64, String)>,
    /// Events the operational core wrote to its outbox during the run.
    pub events: u64,
    pub customers: u64,
    pub equipment: u64,
    pub technicians: u64,
    pub orders: u64,
    pub preventive_orders: u64,
    pub visits: u64,
    /// Corrective orders whose first visit ended fixed (the `first_time_fix_rate` KPI is stricter: no
    /// second visit, no reopening, no repeat order within 30 days).
    pub first_time_fixes: u64,
    pub parts_consumed: u64,
    pub stock_outs: u64,
    pub invoices: u64,
    pub never_invoiced: u64,
    pub payments: u64,
    pub credit_notes: u64,
    pub claims: u64,
    pub suspect_claims: u64,
    pub mobile_batches: u64,
    pub mobile_batches_resent: u64,
}

/// Progress of a run, reported to the caller's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Simulated days done.
    pub day: u64,
    /// Simulated days in total.
    pub days: u64,
    /// Events written so far.
    pub events: u64,
    /// Orders opened so far.
    pub orders: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_validation() {
        let s = SimConfig::preset(Size::Small);
        assert!(s.validate().is_ok());
        assert_eq!(s.end(), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default());
        assert_eq!(SimConfig::preset(Size::Large).technicians, 2000);
        let mut bad = s.clone();
        bad.technicians = 1;
        assert!(bad.validate().is_err());
        assert_eq!("large".parse::<Size>(), Ok(Size::Large));
        assert!("huge".parse::<Size>().is_err());
    }
}
