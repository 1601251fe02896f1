//! The operational core: the SQLite system of record for orders, dispatch,
//! visits, stock, invoicing and claims, with a transactional outbox of events.
//!
//! - [`service`]: [`Ops`], the service object (one writer, pooled readers)
//!   and the transaction every operation runs in.
//! - [`db`]: connection settings, versioned migrations, text forms.
//! - [`master`]: master data (customers ... maintenance plans).
//! - [`orders`]: the order state machine, entitlement, SLA deadlines, visits.
//! - [`stock`]: receipts, transfers, counts, reorder points.
//! - [`dispatch`]: technician suggestions, preventive-maintenance runs.
//! - [`billing`]: order invoices, contract-fee runs, payments, credit notes.
//! - [`claims`]: warranty claims, approval, rejection, settlement.
//! - [`mobile`]: idempotent sync of offline technician actions.
//! - [`outbox`]: the outbox table and [`OutboxReader`] for the ingest relay.
//!
//! Every operation takes the instant it happens (`at`) explicitly, writes its
//! state change and its events in one transaction, and writes nothing when it
//! fails.

pub mod billing;
pub mod claims;
pub mod db;
pub mod dispatch;
pub mod error;
pub mod master;
pub mod mobile;
pub mod orders;
pub mod outbox;
pub mod service;
pub mod stock;

pub use error::{Error, Result};
pub use outbox::{OutboxReader, OutboxRow};
pub use service::{BulkLoad, BulkOptions, BulkStats, Ops, OpsConfig, Page};
