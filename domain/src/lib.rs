//! The language every Fieldhouse crate speaks. No I/O lives here.
//!
//! - [`event`]: the service-event contract: every event type as a Rust type
//!   with serde (the JSON form external systems send) and a schema version.
//! - [`arrow_schema`]: the one wide `events` table: its Arrow schema and the
//!   conversion from typed events to `RecordBatch` and back.
//! - [`ids`]: time-ordered ids (UUIDv7).
//! - [`money`]: amounts as integer cents with a currency.
//! - [`calendar`]: business calendars (time zone, working windows, holidays).
//! - [`sla`]: the SLA clock: deadlines, business time elapsed, SLA state.

pub mod arrow_schema;
pub mod calendar;
pub mod error;
pub mod event;
pub mod ids;
pub mod money;
pub mod samples;
pub mod sla;

pub use error::{Error, Result};
