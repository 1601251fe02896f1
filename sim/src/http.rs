//! The operational core over HTTP as a [`Backend`](crate::Backend): every
//! [`Call`] becomes the matching request to the `/api/v1/` endpoints of a
//! running `fieldhouse serve`, its body the same `fieldhouse_ops` command
//! struct as JSON (with its `at`, so the server never reads its clock for a
//! simulated instant).
//!
//! Answers map back exactly as the library's results do: 2xx is the call's
//! result; 404, 409 and 422 with the API's `{"error", "message"}` body are
//! the core's refusals (the same code word and message the library gives, so
//! a run over HTTP produces the same refusals and the same event stream as
//! one in-process); anything else (400, 401, 403, 5xx, a route the server
//! does not have, a broken connection) is a backend failure that ends the
//! run. With a token every request carries `Authorization: Bearer <token>`.
//!
//! Plain `http://` only (the client is built without a TLS stack); put the
//! server behind a local address or a TLS-terminating proxy's plain side.

use std::time::Duration;

use chrono::SecondsFormat;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::calls::{Call, CallError, Core, InvoiceReply, Mapped, Reply};
use crate::{Error, Result};

/// A failed exchange with the server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The target is not a usable `http://host:port` URL.
    #[error("target `{target}` is not an http://host[:port] URL: {reason}")]
    Target { target: String, reason: String },
    /// No answer (connection refused, reset, timed out).
    #[error("{method} {url}")]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: ureq::Error,
    },
    /// The server answered with a status the simulator cannot go on after.
    #[error("{method} {url} answered {status} `{code}`: {message}")]
    Status { method: &'static str, url: String, status: u16, code: String, message: String },
    /// A 2xx answer whose body is not what the endpoint documents.
    #[error("{method} {url}: unexpected answer body")]
    Decode {
        method: &'static str,
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The API's error body.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

#[derive(serde::Deserialize)]
struct OrderBody {
    order_id: Uuid,
    response_due_at: Option<chrono::DateTime<chrono::Utc>>,
    visit_id: Option<Uuid>,
}

#[derive(serde::Deserialize)]
struct SuggestionBody {
    technician_id: Uuid,
}

#[derive(serde::Deserialize)]
struct ClaimBody {
    claim_id: Uuid,
    amount_cents: i64,
}

#[derive(serde::Deserialize)]
struct SyncBody {
    applied: usize,
    duplicates: usize,
    rejected: usize,
}

#[derive(serde::Deserialize)]
struct Health {
    outbox_seq: i64,
}

/// A client of one server's operational endpoints.
#[derive(Clone)]
pub struct HttpCore {
    agent: ureq::Agent,
    /// `http://host:port`, no trailing slash.
    base: String,
    /// `Bearer <token>`.
    authorization: Option<String>,
}

impl std::fmt::Debug for HttpCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.authorization.as_ref().map(|_| "Bearer ***");
        f.debug_struct("HttpCore").field("base", &self.base).field("authorization", &token).finish()
    }
}

/// The core over HTTP, driven by the simulator.
pub type HttpBackend = Mapped<HttpCore>;

impl HttpCore {
    /// A client of the server at `target` (`http://host:port`, an optional
    /// path prefix kept), sending `token` as a bearer token when given.
    pub fn new(target: &str, token: Option<&str>) -> std::result::Result<HttpCore, HttpError> {
        let bad = |reason: &str| HttpError::Target { target: target.to_string(), reason: reason.to_string() };
        let rest = target.strip_prefix("http://").ok_or_else(|| {
            if target.starts_with("https://") {
                bad("https is not supported by this client; use the server's plain http address")
            } else {
                bad("it must start with http://")
            }
        })?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("no host"));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .max_idle_connections_per_host(8)
            .user_agent(concat!("fieldhouse-sim/", env!("CARGO_PKG_VERSION")))
            .build();
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        Ok(HttpCore {
            agent: config.into(),
            base: target.trim_end_matches('/').to_string(),
            authorization: token.map(|t| format!("Bearer {t}")),
        })
    }

    /// The server's base URL.
    pub fn target(&self) -> &str {
        &self.base
    }

    /// The last outbox sequence number the server reports (`GET /healthz`).
    pub fn outbox_seq(&self) -> std::result::Result<i64, HttpError> {
        let (status, url, body) = self.request("GET", "/healthz", None, &[])?;
        if status != 200 {
            let e: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            return Err(HttpError::Status { method: "GET", url, status, code: e.error, message: e.message });
        }
        let h: Health =
            serde_json::from_slice(&body).map_err(|source| HttpError::Decode { method: "GET", url, source })?;
        Ok(h.outbox_seq)
    }

    /// One request: its status, URL and body.
    fn request(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Vec<u8>>,
        query: &[(&str, String)],
    ) -> std::result::Result<(u16, String, Vec<u8>), HttpError> {
        let url = format!("{}{path}", self.base);
        let response = match body {
            Some(bytes) => {
                let mut req = self.agent.post(&url).header("content-type", "application/json");
                if let Some(a) = &self.authorization {
                    req = req.header("authorization", a);
                }
                req.send(&bytes[..])
            }
            None => {
                let mut req = self.agent.get(&url);
                if let Some(a) = &self.authorization {
                    req = req.header("authorization", a);
                }
                for (k, v) in query {
                    req = req.query(k, v);
                }
                req.call()
            }
        };
        let read = response.and_then(|mut r| {
            let status = r.status().as_u16();
            r.body_mut().with_config().limit(64 << 20).read_to_vec().map(|b| (status, b))
        });
        match read {
            Ok((status, bytes)) => Ok((status, url, bytes)),
            Err(source) => Err(HttpError::Transport { method, url, source }),
        }
    }

    /// A call's request: 2xx decoded, the core's refusals as [`CallError::Refused`].
    fn exchange<R: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Vec<u8>>,
        query: &[(&str, String)],
    ) -> std::result::Result<R, CallError> {
        let failed = |e: HttpError| CallError::Failed(Box::new(e));
        let (status, url, text) = self.request(method, path, body, query).map_err(failed)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&text).map_err(|source| failed(HttpError::Decode { method, url, source }));
        }
        let e: ErrorBody = serde_json::from_slice(&text).unwrap_or_else(|_| ErrorBody {
            error: String::new(),
            message: String::from_utf8_lossy(&text).chars().take(300).collect(),
        });
        // The core's refusals: unknown id (but not an unknown route), a state
        // or data conflict, an invalid value.
        let refusal = match status {
            404 => !e.message.starts_with("no route for"),
            409 | 422 => true,
            _ => false,
        };
        if refusal && !e.error.is_empty() {
            return Err(CallError::Refused { code: e.error, message: e.message });
        }
        Err(failed(HttpError::Status { method, url, status, code: e.error, message: e.message }))
    }

    fn post<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> std::result::Result<R, CallError> {
        let bytes = serde_json::to_vec(body).map_err(|e| CallError::Failed(Box::new(e)))?;
        self.exchange("POST", path, Some(bytes), &[])
    }

    /// POST a creation and read the new record's id from the answer's `key`.
    fn create<B: Serialize>(&self, path: &str, key: &str, body: &B) -> std::result::Result<Reply, CallError> {
        let v: serde_json::Value = self.post(path, body)?;
        let id = v.get(key).and_then(serde_json::Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        id.map(Reply::Created).ok_or_else(|| CallError::Failed(format!("POST {path}: no `{key}` in the answer").into()))
    }

    fn order_action<B: Serialize>(&self, id: Uuid, action: &str, body: &B) -> std::result::Result<Reply, CallError> {
        let v: OrderBody = self.post(&format!("/api/v1/orders/{id}/{action}"), body)?;
        Ok(Reply::Order { order_id: v.order_id, response_due_at: v.response_due_at, visit_id: v.visit_id })
    }

    fn done<B: Serialize>(&self, path: &str, body: &B) -> std::result::Result<Reply, CallError> {
        self.post::<_, serde_json::Value>(path, body).map(|_| Reply::Done)
    }
}

impl Core for HttpCore {
    fn call(&mut self, call: Call) -> std::result::Result<Reply, CallError> {
        const V1: &str = "/api/v1";
        match call {
            Call::RegisterCustomer(c) => self.create("/api/v1/customers", "customer_id", &c),
            Call::RegisterSite(c) => self.create("/api/v1/sites", "site_id", &c),
            Call::RegisterManufacturer(c) => self.create("/api/v1/manufacturers", "manufacturer_id", &c),
            Call::DefineProduct(c) => self.create("/api/v1/products", "product_id", &c),
            Call::InstallEquipment(c) => self.create("/api/v1/equipment", "equipment_id", &c),
            Call::DefineCalendar(c) => self.create("/api/v1/calendars", "calendar_id", &c),
            Call::SignContract(c) => self.create("/api/v1/contracts", "contract_id", &c),
            Call::RegisterAgent(c) => self.create("/api/v1/agents", "agent_id", &c),
            Call::HireTechnician(c) => self.create("/api/v1/technicians", "technician_id", &c),
            Call::DefinePart(c) => self.create("/api/v1/parts", "part_id", &c),
            Call::DefineStockLocation(c) => self.create("/api/v1/stock-locations", "location_id", &c),
            Call::SetReorderPoint(c) => self.done("/api/v1/stock/reorder-points", &c),
            Call::DefineMaintenancePlan(c) => self.create("/api/v1/maintenance-plans", "plan_id", &c),
            Call::OpenOrder(c) => {
                let v: OrderBody = self.post("/api/v1/orders", &c)?;
                Ok(Reply::Order { order_id: v.order_id, response_due_at: v.response_due_at, visit_id: v.visit_id })
            }
            Call::ChangePriority(id, c) => self.order_action(id, "priority", &c),
            Call::Suggest { order_id, at, limit } => {
                let query = [("at", at.to_rfc3339_opts(SecondsFormat::AutoSi, true)), ("limit", limit.to_string())];
                let list: Vec<SuggestionBody> =
                    self.exchange("GET", &format!("{V1}/orders/{order_id}/suggestions"), None, &query)?;
                Ok(Reply::Suggestions(list.into_iter().map(|s| s.technician_id).collect()))
            }
            Call::Assign(id, c) => self.order_action(id, "assign", &c),
            Call::Reassign(id, c) => self.order_action(id, "reassign", &c),
            Call::StartTravel(id, c) => self.order_action(id, "travel", &c),
            Call::Arrive(id, c) => self.order_action(id, "arrive", &c),
            Call::Pause(id, c) => self.order_action(id, "pause", &c),
            Call::Resume(id, c) => self.order_action(id, "resume", &c),
            Call::LogWork(id, c) => self.order_action(id, "work", &c),
            Call::ConsumePart(id, c) => self.order_action(id, "parts", &c),
            Call::EndVisit(id, c) => self.order_action(id, "end-visit", &c),
            Call::Complete(id, c) => self.order_action(id, "complete", &c),
            Call::Close(id, c) => self.order_action(id, "close", &c),
            Call::Cancel(id, c) => self.order_action(id, "cancel", &c),
            Call::Reopen(id, c) => self.order_action(id, "reopen", &c),
            Call::ReceiveStock(c) => self.done("/api/v1/stock/receipts", &c),
            Call::TransferStock(c) => self.done("/api/v1/stock/transfers", &c),
            Call::CountStock(c) => self.done("/api/v1/stock/counts", &c),
            Call::SyncMobile(batch) => {
                let r: SyncBody = self.post("/api/v1/mobile/sync", &batch)?;
                Ok(Reply::Synced { applied: r.applied, duplicates: r.duplicates, rejected: r.rejected })
            }
            Call::InvoiceOrder(id, c) => {
                let v: InvoiceReply = self.post(&format!("{V1}/orders/{id}/invoice"), &c)?;
                Ok(Reply::Invoices(vec![v]))
            }
            Call::RunFeeBilling(c) => Ok(Reply::Invoices(self.post("/api/v1/billing/fee-runs", &c)?)),
            Call::RecordPayment(id, c) => self.done(&format!("{V1}/invoices/{id}/payments"), &c),
            Call::IssueCreditNote(id, c) => self.done(&format!("{V1}/invoices/{id}/credit-notes"), &c),
            Call::FileClaim(c) => {
                let v: ClaimBody = self.post("/api/v1/claims", &c)?;
                Ok(Reply::Claim { claim_id: v.claim_id, amount_cents: v.amount_cents })
            }
            Call::ApproveClaim(id, c) => self.done(&format!("{V1}/claims/{id}/approve"), &c),
            Call::RejectClaim(id, c) => self.done(&format!("{V1}/claims/{id}/reject"), &c),
            Call::SettleClaims(c) => self.done("/api/v1/claims/settlements", &c),
        }
    }

    fn events_written(&self) -> u64 {
        self.outbox_seq().map_or(0, |s| u64::try_from(s).unwrap_or(0))
    }
}

/// Simulate `cfg` against the server at `target`, sending `token` as a
/// bearer token. Like [`crate::simulate`], the server's outbox must hold no
/// events yet (serve a fresh data directory): the simulated organisation's
/// serial numbers and ids would collide with an earlier run's.
pub fn simulate_http(
    target: &str,
    token: Option<&str>,
    cfg: &crate::SimConfig,
    progress: Option<&dyn Fn(crate::Progress)>,
) -> Result<crate::SimSummary> {
    cfg.validate()?;
    let client = HttpCore::new(target, token).map_err(|e| Error::Backend { op: "connect", source: Box::new(e) })?;
    let existing = client.outbox_seq().map_err(|e| Error::Backend { op: "connect", source: Box::new(e) })?;
    if existing > 0 {
        return Err(Error::NotEmpty { path: client.target().to_string(), events: existing });
    }
    let mut backend = Mapped::new(client);
    crate::simulate_with(&mut backend, cfg, progress)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn targets_are_plain_http_urls_and_the_token_is_never_printed() {
        let c = HttpCore::new("http://127.0.0.1:8080/", Some(" fh_secret ")).unwrap();
        assert_eq!(c.target(), "http://127.0.0.1:8080");
        assert_eq!(c.authorization.as_deref(), Some("Bearer fh_secret"));
        assert!(!format!("{c:?}").contains("fh_secret"), "{c:?}");
        assert!(HttpCore::new("http://h:1", Some("  ")).unwrap().authorization.is_none());
        for bad in ["https://h:1", "127.0.0.1:8080", "http://", "http:///x"] {
            let e = HttpCore::new(bad, None).unwrap_err();
            assert!(matches!(e, HttpError::Target { .. }), "{bad}: {e}");
        }
        assert!(HttpCore::new("https://h", None).unwrap_err().to_string().contains("https is not supported"));
    }
}
