//! The hand-made October world of `fieldhouse_testkit::october` (its module
//! docs give every order, invoice and claim), and its lake.
#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used)]

pub use fieldhouse_testkit::october::*;
pub use fieldhouse_testkit::{OrderSpec, PartUse, VisitSpec, World, d, id, json_rows, labour, s, t};

/// The October world written once per test binary into a Delta lake under a
/// temporary directory (read-only for the tests).
pub fn october_lake() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        fieldhouse_engine::testing::write_events_blocking(dir.path(), &october().events).unwrap();
        dir
    })
    .path()
}
