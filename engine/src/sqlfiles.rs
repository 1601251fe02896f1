//! The SQL files: `sql/views/*.sql` (one view each, named after the file
//! without its numeric prefix, registered in file-name order) and
//! `sql/kpi/*.sql` (the catalog). They are built into the binary, so it
//! works from any directory; `EngineConfig::sql_dir` reads them from disk
//! instead (for editing without rebuilding).

use std::path::Path;

use crate::{Error, Result};

/// One SQL file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    /// The view name (file stem without `NN_`), or the file stem for KPIs.
    pub name: String,
    /// The file name.
    pub file: String,
    /// The text.
    pub body: String,
}

macro_rules! embed {
    ($dir:literal: $($file:literal),+ $(,)?) => {
        &[$(($file, include_str!(concat!("../../sql/", $dir, "/", $file)))),+]
    };
}

/// The views built into the binary, in registration order.
pub const VIEW_FILES: &[(&str, &str)] = embed!("views":
    "01_calendars.sql", "02_customers.sql", "03_sites.sql", "04_products.sql", "05_parts.sql",
    "06_equipment.sql", "07_contracts.sql", "08_agents.sql", "08_manufacturers.sql", "09_technicians.sql",
    "10_pauses.sql", "11_order_openings.sql", "11_visits.sql", "12_order_entitlements.sql", "12_order_heads.sql",
    "12_orders_core.sql", "13_order_followups.sql", "13_orders.sql", "13_part_consumption.sql", "14_invoices.sql",
    "15_invoice_lines.sql", "16_payments.sql", "17_credit_notes.sql", "17_invoice_settlements.sql",
    "18_claims.sql",
);

/// The KPI files built into the binary.
pub const KPI_FILES: &[(&str, &str)] = embed!("kpi":
    "agent_scorecard.sql",
    "backlog.sql",
    "billing_cycle_time.sql",
    "billing_leakage.sql",
    "claim_list.sql",
    "claim_settlement.sql",
    "csat.sql",
    "dso.sql",
    "failure_rate.sql",
    "fault_pareto.sql",
    "first_time_fix_rate.sql",
    "mtbf.sql",
    "parts_attach_rate.sql",
    "parts_consumption.sql",
    "receivables_aging.sql",
    "repeat_visit_rate.sql",
    "response_time.sql",
    "sla_resolution_compliance.sql",
    "sla_response_compliance.sql",
    "stockout_delays.sql",
    "suspect_claims.sql",
    "technician_scorecard.sql",
    "technician_utilization.sql",
    "time_to_resolve.sql",
);

fn view_name(file: &str) -> String {
    let stem = file.strip_suffix(".sql").unwrap_or(file);
    let trimmed = stem.trim_start_matches(|c: char| c.is_ascii_digit());
    trimmed.strip_prefix('_').unwrap_or(trimmed).to_string()
}

fn to_files(list: &[(&str, &str)]) -> Vec<SqlFile> {
    list.iter().map(|(f, b)| SqlFile { name: view_name(f), file: (*f).to_string(), body: (*b).to_string() }).collect()
}

/// The embedded views.
pub fn embedded_views() -> Vec<SqlFile> {
    to_files(VIEW_FILES)
}

/// The embedded KPI files.
pub fn embedded_kpis() -> Vec<SqlFile> {
    to_files(KPI_FILES)
}

/// Every `*.sql` file of `dir`, sorted by file name.
pub fn read_dir(dir: &Path) -> Result<Vec<SqlFile>> {
    let io = |source| Error::Io { path: dir.display().to_string(), source };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|file| {
            let path = dir.join(&file);
            let body = std::fs::read_to_string(&path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            Ok(SqlFile { name: view_name(&file), file, body })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The embedded lists name every file of `sql/` and nothing else.
    #[test]
    fn embedded_lists_match_the_sql_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql");
        for (dir, list) in [("views", VIEW_FILES), ("kpi", KPI_FILES)] {
            let on_disk: Vec<String> = read_dir(&root.join(dir)).unwrap().into_iter().map(|f| f.file).collect();
            let embedded: Vec<String> = list.iter().map(|(f, _)| (*f).to_string()).collect();
            assert_eq!(on_disk, embedded, "sql/{dir} and the embedded list differ");
        }
    }

    #[test]
    fn view_names_drop_the_prefix() {
        assert_eq!(view_name("12_orders.sql"), "orders");
        assert_eq!(view_name("08_manufacturers.sql"), "manufacturers");
    }
}
