//! Errors as PostgreSQL sees them: engine errors mapped to SQLSTATEs (data
//! directory paths redacted), and the `ERROR`/`FATAL` messages sent.

use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError};

use super::PgServer;
use crate::error::engine_error;

impl PgServer {
    pub(super) fn redact(&self) -> Vec<String> {
        let d = self.state.data_dir.display().to_string();
        let canon = self.state.data_dir.canonicalize().map(|p| p.display().to_string()).unwrap_or_default();
        vec![d, canon]
    }

    /// An engine or DataFusion error as a PostgreSQL error.
    pub(super) fn pg_error(&self, e: &(dyn std::error::Error + 'static)) -> PgWireError {
        let redact = self.redact();
        let redact: Vec<&str> = redact.iter().map(String::as_str).collect();
        let api = engine_error(e, &redact);
        let code = match api.code.as_str() {
            "refused" => "25006",
            "forbidden" => "42501",
            "query_timeout" => "57014",
            "query_too_large" => "53200",
            "bad_query" if api.message.contains("not found") => "42P01",
            "bad_query" => "42601",
            "unsupported" => "0A000",
            "kpi_not_found" => "42P01",
            "bad_parameter" => "22023",
            _ => "XX000",
        };
        user_error(code, api.message)
    }
}

pub(super) fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message)))
}

pub(super) fn user_fatal(code: &str, message: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message.into())))
}

impl ErrorHandler for PgServer {
    fn on_error<C: ClientInfo>(&self, _client: &C, error: &mut PgWireError) {
        tracing::debug!(error = %error, "pg: error sent");
    }
}
