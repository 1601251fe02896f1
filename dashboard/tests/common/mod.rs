//! The hand-made October world of `fieldhouse_testkit::board` (its module
//! docs give every order, invoice and claim with the numbers the pages
//! show), its lake, and the dashboard over it with a token per role.
#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used)]

pub use fieldhouse_testkit::board::*;
pub use fieldhouse_testkit::{World, id, s, t};

/// Tokens of the test authenticator.
pub const MANAGER: &str = "tok-manager";
pub const FINANCE: &str = "tok-finance";
pub const ENGINEER: &str = "tok-engineer";
pub const PARTNER_A: &str = "tok-partner-a";

pub struct Tokens;

impl fieldhouse_dashboard::Authenticate for Tokens {
    fn authenticate(&self, token: &str) -> Option<fieldhouse_engine::Caller> {
        use fieldhouse_engine::{Caller, Role};
        match token {
            MANAGER => Some(Caller::with_role(Role::Manager)),
            FINANCE => Some(Caller::with_role(Role::Finance)),
            ENGINEER => Some(Caller::with_role(Role::Engineer)),
            PARTNER_A => Some(Caller::partner(id(AGENT_A))),
            _ => None,
        }
    }
}

/// A dashboard state over the lake in `dir`.
pub fn state(dir: &std::path::Path) -> fieldhouse_dashboard::DashboardState {
    fieldhouse_dashboard::DashboardState {
        engine: fieldhouse_engine::Engine::open(dir).unwrap(),
        cache: std::sync::Arc::new(fieldhouse_engine::cache::KpiCache::new(256)),
        auth: std::sync::Arc::new(Tokens),
        max_stale: std::time::Duration::ZERO,
    }
}

/// Write the October world into a fresh temp dir (from sync code or from
/// inside a test's runtime).
pub fn october_lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events_blocking(dir.path(), &october().events).unwrap();
    dir
}

/// The text of the element with `id`'s `data-value` attribute in `html`.
pub fn data_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let v = rest.find("data-value=\"")? + "data-value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}
