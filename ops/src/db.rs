//! SQLite storage: connection settings, versioned migrations, and the text
//! forms of ids, instants and dates in the database.
//!
//! Ids are hyphenated lowercase UUID text (UUIDv7 text sorts by time, which
//! pagination relies on), instants RFC 3339 with microseconds and `Z`, dates
//! `YYYY-MM-DD`. The schema version is `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OpenFlags, Row};
use uuid::Uuid;

use crate::{Error, Result};

/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection: more than the distinct
/// statements of all operations together (rusqlite's default of 16 is
/// smaller than one order's lifecycle, so they were prepared again and again).
const STATEMENT_CACHE: usize = 256;

/// Migrations in order; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2];

/// What dispatch suggestions read for every technician at every dispatch,
/// kept where one read finds it:
/// - open orders per technician from an index alone: `(state,
///   technician_id)` replaces the index on `state`, of which it is a prefix;
/// - each technician's last arrival on site (the latest `arrived_at` of
///   their visits, ties to the later visit row), kept on the technician by
///   every arrival and filled from the visits here.
const V2: &str = r#"
CREATE INDEX orders_state_technician ON orders(state, technician_id);
DROP INDEX orders_state;
ALTER TABLE technicians ADD COLUMN last_arrived_at TEXT;
ALTER TABLE technicians ADD COLUMN last_arrival_visit INTEGER;
ALTER TABLE technicians ADD COLUMN last_lat REAL;
ALTER TABLE technicians ADD COLUMN last_lon REAL;
UPDATE technicians SET (last_arrived_at, last_arrival_visit, last_lat, last_lon) = (
    SELECT arrived_at, rowid, lat, lon FROM visits
    WHERE technician_id = technicians.id AND arrived_at IS NOT NULL ORDER BY arrived_at DESC, rowid DESC LIMIT 1);
"#;

const V1: &str = r#"
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, body TEXT NOT NULL);

CREATE TABLE calendars (id TEXT PRIMARY KEY, name TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX calendars_name ON calendars(name);
CREATE TABLE customers (id TEXT PRIMARY KEY, payment_terms_days INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE sites (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
    region TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, time_zone TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE manufacturers (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE products (
    id TEXT PRIMARY KEY, manufacturer_id TEXT NOT NULL REFERENCES manufacturers(id),
    family TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE equipment (
    id TEXT PRIMARY KEY, product_id TEXT NOT NULL REFERENCES products(id), site_id TEXT NOT NULL REFERENCES sites(id),
    customer_id TEXT NOT NULL REFERENCES customers(id), serial TEXT NOT NULL UNIQUE,
    warranty_end TEXT NOT NULL, decommissioned_on TEXT, body TEXT NOT NULL);
CREATE TABLE contracts (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
    calendar_id TEXT NOT NULL REFERENCES calendars(id), valid_from TEXT NOT NULL, valid_to TEXT NOT NULL,
    terminated_on TEXT, body TEXT NOT NULL);
CREATE TABLE contract_equipment (
    contract_id TEXT NOT NULL REFERENCES contracts(id), equipment_id TEXT NOT NULL REFERENCES equipment(id),
    PRIMARY KEY (contract_id, equipment_id));
CREATE INDEX contract_equipment_equipment ON contract_equipment(equipment_id);
CREATE TABLE agents (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE technicians (id TEXT PRIMARY KEY, agent_id TEXT REFERENCES agents(id), left_at TEXT, body TEXT NOT NULL);
CREATE TABLE parts (id TEXT PRIMARY KEY, part_number TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE stock_locations (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE stock (
    location_id TEXT NOT NULL REFERENCES stock_locations(id), part_id TEXT NOT NULL REFERENCES parts(id),
    on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reorder_point INTEGER, reorder_quantity INTEGER, reorder_pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (location_id, part_id));
CREATE TABLE maintenance_plans (
    id TEXT PRIMARY KEY, equipment_id TEXT NOT NULL REFERENCES equipment(id),
    interval_days INTEGER NOT NULL CHECK (interval_days > 0), next_due_on TEXT NOT NULL, body TEXT NOT NULL);

CREATE TABLE orders (
    id TEXT PRIMARY KEY, order_type TEXT NOT NULL, channel TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id), site_id TEXT NOT NULL REFERENCES sites(id),
    equipment_id TEXT NOT NULL REFERENCES equipment(id), product_id TEXT NOT NULL REFERENCES products(id),
    priority TEXT NOT NULL, fault_code TEXT NOT NULL, reported_fault TEXT NOT NULL,
    entitlement TEXT NOT NULL, contract_id TEXT REFERENCES contracts(id), calendar_id TEXT NOT NULL REFERENCES calendars(id),
    opened_at TEXT NOT NULL, response_target_minutes INTEGER NOT NULL, resolution_target_minutes INTEGER NOT NULL,
    response_due_at TEXT, resolution_due_at TEXT,
    state TEXT NOT NULL, paused_from TEXT, pause_reason TEXT,
    technician_id TEXT REFERENCES technicians(id), agent_id TEXT REFERENCES agents(id),
    visit_id TEXT, last_outcome TEXT, first_arrival_at TEXT, completed_at TEXT, closed_at TEXT,
    signed_by TEXT, csat INTEGER CHECK (csat BETWEEN 1 AND 5), cancelled_at TEXT, plan_id TEXT, updated_at TEXT NOT NULL);
CREATE INDEX orders_state ON orders(state);
CREATE INDEX orders_technician ON orders(technician_id, state);
CREATE TABLE order_pauses (
    order_id TEXT NOT NULL REFERENCES orders(id), start_at TEXT NOT NULL, end_at TEXT, reason TEXT NOT NULL);
CREATE INDEX order_pauses_order ON order_pauses(order_id);
CREATE TABLE visits (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), technician_id TEXT NOT NULL REFERENCES technicians(id),
    agent_id TEXT, travel_started_at TEXT NOT NULL, arrived_at TEXT, arrival_event_id TEXT, lat REAL, lon REAL,
    ended_at TEXT, outcome TEXT);
CREATE INDEX visits_order ON visits(order_id);
CREATE INDEX visits_technician ON visits(technician_id, arrived_at);
CREATE TABLE work_logs (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), visit_id TEXT NOT NULL REFERENCES visits(id),
    technician_id TEXT NOT NULL, minutes INTEGER NOT NULL CHECK (minutes > 0), at TEXT NOT NULL);
CREATE INDEX work_logs_order ON work_logs(order_id);
CREATE TABLE consumptions (
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), visit_id TEXT NOT NULL REFERENCES visits(id),
    part_id TEXT NOT NULL REFERENCES parts(id), location_id TEXT NOT NULL REFERENCES stock_locations(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0), unit_cost_cents INTEGER NOT NULL, at TEXT NOT NULL);
CREATE INDEX consumptions_order ON consumptions(order_id);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY, order_id TEXT REFERENCES orders(id), contract_id TEXT REFERENCES contracts(id),
    customer_id TEXT NOT NULL REFERENCES customers(id), bill_to TEXT NOT NULL, issued_on TEXT NOT NULL, due_on TEXT NOT NULL,
    currency TEXT NOT NULL, total_cents INTEGER NOT NULL, paid_cents INTEGER NOT NULL DEFAULT 0,
    credited_cents INTEGER NOT NULL DEFAULT 0, fee_period TEXT, body TEXT NOT NULL,
    CHECK (paid_cents + credited_cents <= total_cents));
CREATE UNIQUE INDEX invoices_order ON invoices(order_id) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX invoices_fee ON invoices(contract_id, fee_period) WHERE fee_period IS NOT NULL;
CREATE TABLE payments (
    id TEXT PRIMARY KEY, invoice_id TEXT NOT NULL REFERENCES invoices(id), amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    received_on TEXT NOT NULL);
CREATE TABLE credit_notes (
    id TEXT PRIMARY KEY, invoice_id TEXT NOT NULL REFERENCES invoices(id), amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    issued_on TEXT NOT NULL, reason TEXT NOT NULL);

CREATE TABLE claims (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), agent_id TEXT NOT NULL REFERENCES agents(id),
    manufacturer_id TEXT NOT NULL REFERENCES manufacturers(id), state TEXT NOT NULL, amount_cents INTEGER NOT NULL,
    approved_cents INTEGER, reason_code TEXT, reason TEXT, settlement_id TEXT, filed_at TEXT NOT NULL,
    decided_at TEXT, paid_at TEXT, body TEXT NOT NULL);
CREATE INDEX claims_state ON claims(state, agent_id);

CREATE TABLE mobile_actions (
    client_id TEXT PRIMARY KEY, technician_id TEXT NOT NULL, action_type TEXT NOT NULL, applied_at TEXT NOT NULL);
"#;

/// Open (creating if needed) the writer connection and bring the schema up to date.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A read-only connection: in WAL mode it reads a snapshot and never blocks the writer.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The current schema version of this build.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::corrupt(format!(
            "database schema version {current} is newer than this build ({SCHEMA_VERSION})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "migrated ops database");
    }
    Ok(())
}

// --- text forms ------------------------------------------------------------

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    fieldhouse_domain::event::format_ts(&t)
}

pub(crate) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn id(u: Uuid) -> String {
    u.hyphenated().to_string()
}

fn conv_err(idx: &str, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    tracing::error!(column = idx, "unreadable stored value");
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// Typed getters for the text forms, by column name.
pub(crate) trait RowExt {
    fn uuid(&self, col: &str) -> rusqlite::Result<Uuid>;
    fn opt_uuid(&self, col: &str) -> rusqlite::Result<Option<Uuid>>;
    fn instant(&self, col: &str) -> rusqlite::Result<DateTime<Utc>>;
    fn opt_instant(&self, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>>;
    fn date(&self, col: &str) -> rusqlite::Result<NaiveDate>;
    fn parsed<T: std::str::FromStr<Err = String>>(&self, col: &str) -> rusqlite::Result<T>;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

fn to_uuid(col: &str, s: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&s).map_err(|e| conv_err(col, e))
}

fn to_instant(col: &str, s: String) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(|e| conv_err(col, e))
}

fn to_date(col: &str, s: String) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| conv_err(col, e))
}

fn to_parsed<T: std::str::FromStr<Err = String>>(col: &str, s: String) -> rusqlite::Result<T> {
    s.parse().map_err(|e| conv_err(col, Msg(e)))
}

impl RowExt for Row<'_> {
    fn uuid(&self, col: &str) -> rusqlite::Result<Uuid> {
        to_uuid(col, self.get(col)?)
    }
    fn opt_uuid(&self, col: &str) -> rusqlite::Result<Option<Uuid>> {
        self.get::<_, Option<String>>(col)?.map(|s| to_uuid(col, s)).transpose()
    }
    fn instant(&self, col: &str) -> rusqlite::Result<DateTime<Utc>> {
        to_instant(col, self.get(col)?)
    }
    fn opt_instant(&self, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
        self.get::<_, Option<String>>(col)?.map(|s| to_instant(col, s)).transpose()
    }
    fn date(&self, col: &str) -> rusqlite::Result<NaiveDate> {
        to_date(col, self.get(col)?)
    }
    fn parsed<T: std::str::FromStr<Err = String>>(&self, col: &str) -> rusqlite::Result<T> {
        to_parsed(col, self.get(col)?)
    }
}

/// Reads the columns of a wide row one after the other, by position: a
/// lookup by name compares the name with every column's, which for the
/// 33 columns of `orders`, read at every step of an order, was most of the
/// cost of loading one. Each read names the column it expects next; when
/// the column there is called otherwise (the query changed), it is looked
/// up by name, so a read is never of the wrong column.
pub(crate) struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl<'a, 'r> Columns<'a, 'r> {
    /// Start at the first column of `row`.
    pub(crate) fn new(row: &'a Row<'r>) -> Columns<'a, 'r> {
        Columns { row, next: 0 }
    }

    fn index(&mut self, col: &str) -> rusqlite::Result<usize> {
        let stmt = self.row.as_ref();
        let i = match stmt.column_name(self.next) {
            Ok(name) if name == col => self.next,
            _ => stmt.column_index(col)?,
        };
        self.next = i + 1;
        Ok(i)
    }

    pub(crate) fn get<T: rusqlite::types::FromSql>(&mut self, col: &str) -> rusqlite::Result<T> {
        let i = self.index(col)?;
        self.row.get(i)
    }
    pub(crate) fn uuid(&mut self, col: &str) -> rusqlite::Result<Uuid> {
        to_uuid(col, self.get(col)?)
    }
    pub(crate) fn opt_uuid(&mut self, col: &str) -> rusqlite::Result<Option<Uuid>> {
        self.get::<Option<String>>(col)?.map(|s| to_uuid(col, s)).transpose()
    }
    pub(crate) fn instant(&mut self, col: &str) -> rusqlite::Result<DateTime<Utc>> {
        to_instant(col, self.get(col)?)
    }
    pub(crate) fn opt_instant(&mut self, col: &str) -> rusqlite::Result<Option<DateTime<Utc>>> {
        self.get::<Option<String>>(col)?.map(|s| to_instant(col, s)).transpose()
    }
    pub(crate) fn parsed<T: std::str::FromStr<Err = String>>(&mut self, col: &str) -> rusqlite::Result<T> {
        to_parsed(col, self.get(col)?)
    }
    pub(crate) fn opt_parsed<T: std::str::FromStr<Err = String>>(&mut self, col: &str) -> rusqlite::Result<Option<T>> {
        self.get::<Option<String>>(col)?.map(|s| to_parsed(col, s)).transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_to_the_current_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(indexes.contains(&"orders_state_technician".to_string()), "{indexes:?}");
        assert!(!indexes.contains(&"orders_state".to_string()), "{indexes:?}");
    }

    #[test]
    fn the_migration_fills_in_each_technicians_last_arrival() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO technicians (id, body) VALUES ('a', '{}'), ('b', '{}'), ('c', '{}');
             INSERT INTO visits (rowid, id, order_id, technician_id, travel_started_at, arrived_at, lat, lon) VALUES
               (1, 'v1', 'o', 'a', 't', '2026-01-02T10:00:00.000000Z', 1.0, 1.0),
               (2, 'v2', 'o', 'a', 't', '2026-01-03T09:00:00.000000Z', 2.0, 2.0),
               (3, 'v3', 'o', 'a', 't', '2026-01-01T10:00:00.000000Z', 3.0, 3.0),
               (4, 'v4', 'o', 'a', 't', NULL, NULL, NULL),
               (5, 'v5', 'o', 'b', 't', '2026-01-02T10:00:00.000000Z', 5.0, 5.0),
               (6, 'v6', 'o', 'b', 't', '2026-01-02T10:00:00.000000Z', 6.0, 6.0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let last = |id: &str| {
            conn.query_row(
                "SELECT last_arrived_at, last_arrival_visit, last_lat FROM technicians WHERE id = ?1",
                [id],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<f64>>(2)?)),
            )
            .unwrap()
        };
        assert_eq!(last("a"), (Some("2026-01-03T09:00:00.000000Z".into()), Some(2), Some(2.0)), "the latest instant");
        assert_eq!(
            last("b"),
            (Some("2026-01-02T10:00:00.000000Z".into()), Some(6), Some(6.0)),
            "a tie: the later visit"
        );
        assert_eq!(last("c"), (None, None, None), "never arrived");
    }

    #[test]
    fn columns_read_by_position_and_fall_back_to_names() {
        let conn = Connection::open_in_memory().unwrap();
        let row = |sql: &str| {
            conn.query_row(sql, [], |r| {
                let mut c = Columns::new(r);
                Ok((c.get::<i64>("a")?, c.get::<i64>("b")?, c.get::<i64>("c")?))
            })
        };
        assert_eq!(row("SELECT 1 AS a, 2 AS b, 3 AS c").unwrap(), (1, 2, 3));
        // Another order of columns: still each by its name.
        assert_eq!(row("SELECT 3 AS c, 1 AS a, 2 AS b").unwrap(), (1, 2, 3));
        assert!(row("SELECT 1 AS a, 2 AS b").is_err(), "a missing column is an error");
    }
}
