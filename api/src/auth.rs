//! Bearer tokens: [`TokenStore`] (SQLite `<data-dir>/auth.db`, only the
//! SHA-256 of each token kept) and the middleware that turns an
//! `Authorization: Bearer <token>` header into a [`Caller`] and applies the
//! role rules of [`crate::routes`].
//!
//! A token is `fh_` followed by 64 hex digits (256 random bits); it is shown
//! once, at creation. A partner token is bound to one agent and every query
//! it makes is scoped to that agent by the engine. Revocation takes effect on
//! the next request (the store is read on every request, so a token revoked
//! by `fieldhouse token revoke` in another process stops working at once).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use fieldhouse_engine::{Caller, Role};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::Digest;
use uuid::Uuid;

use crate::error::ApiError;

pub use crate::error::TokenError;

/// One stored token (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: its record and the secret, shown once.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// The token table in `auth.db`.
#[derive(Debug)]
pub struct TokenStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// SHA-256 of `token`, lower-case hex.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenStore {
    /// The store of data directory `data_dir` (`<data-dir>/auth.db`).
    pub fn open_in(data_dir: &Path) -> Result<TokenStore, TokenError> {
        TokenStore::open(&data_dir.join("auth.db"))
    }

    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<TokenStore, TokenError> {
        let err = |source| TokenError::Sqlite { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS tokens (
                 id TEXT PRIMARY KEY,
                 sha256 TEXT NOT NULL UNIQUE,
                 name TEXT NOT NULL,
                 role TEXT NOT NULL,
                 agent_id TEXT,
                 created_at TEXT NOT NULL,
                 revoked_at TEXT)",
        )
        .map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(TokenStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sqlite(&self) -> impl FnOnce(rusqlite::Error) -> TokenError + '_ {
        |source| TokenError::Sqlite { path: self.path.clone(), source }
    }

    /// Create a token for `role`; a partner token needs `agent_id`, other
    /// roles must not have one. Returns the secret (shown once).
    pub fn create(&self, role: Role, agent_id: Option<Uuid>, name: Option<&str>) -> Result<NewToken, TokenError> {
        match (role, agent_id) {
            (Role::Partner, None) => {
                return Err(TokenError::Invalid("a partner token must be bound to an agent: give --agent ID".into()));
            }
            (r, Some(_)) if r != Role::Partner => {
                return Err(TokenError::Invalid(format!(
                    "only partner tokens are bound to an agent; a {r} token sees every agent's rows"
                )));
            }
            _ => {}
        }
        let secret_bytes: [u8; 32] = rand::random();
        let secret: String =
            std::iter::once("fh_".to_string()).chain(secret_bytes.iter().map(|b| format!("{b:02x}"))).collect();
        let id = Uuid::now_v7();
        let created_at = Utc::now();
        let name = name.map(str::to_string).unwrap_or_else(|| format!("{role}-{}", &id.simple().to_string()[24..]));
        self.lock()
            .execute(
                "INSERT INTO tokens (id, sha256, name, role, agent_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (
                    id.to_string(),
                    token_hash(&secret),
                    &name,
                    role.as_str(),
                    agent_id.map(|a| a.to_string()),
                    created_at.to_rfc3339(),
                ),
            )
            .map_err(self.sqlite())?;
        Ok(NewToken { info: TokenInfo { id, name, role, agent_id, created_at, revoked_at: None }, secret })
    }

    /// Every token, oldest first.
    pub fn list(&self) -> Result<Vec<TokenInfo>, TokenError> {
        let conn = self.lock();
        let mut st = conn
            .prepare("SELECT id, name, role, agent_id, created_at, revoked_at FROM tokens ORDER BY created_at, id")
            .map_err(self.sqlite())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(self.sqlite())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, role, agent, created, revoked) = row.map_err(self.sqlite())?;
            let parse_t = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc));
            let (Ok(id), Ok(role)) = (Uuid::parse_str(&id), role.parse::<Role>()) else { continue };
            out.push(TokenInfo {
                id,
                name,
                role,
                agent_id: agent.and_then(|a| Uuid::parse_str(&a).ok()),
                created_at: parse_t(&created).unwrap_or_default(),
                revoked_at: revoked.as_deref().and_then(parse_t),
            });
        }
        Ok(out)
    }

    /// Revoke the token whose id is `id` or starts with `id` (at least 8
    /// characters, and only one token may match). Revoking twice is fine.
    pub fn revoke(&self, id: &str) -> Result<TokenInfo, TokenError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 8 {
            return Err(TokenError::Invalid("give at least the first 8 characters of the token id".into()));
        }
        let matches: Vec<TokenInfo> = self.list()?.into_iter().filter(|t| t.id.to_string().starts_with(&id)).collect();
        let token = match matches.as_slice() {
            [one] => one.clone(),
            [] => return Err(TokenError::NotFound(id)),
            _ => {
                return Err(TokenError::Invalid(format!(
                    "`{id}` matches {} tokens; give more of the id",
                    matches.len()
                )));
            }
        };
        let now = Utc::now();
        self.lock()
            .execute(
                "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                (token.id.to_string(), now.to_rfc3339()),
            )
            .map_err(self.sqlite())?;
        Ok(TokenInfo { revoked_at: token.revoked_at.or(Some(now)), ..token })
    }

    /// The caller a token stands for, if it is a known token not revoked.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let token = token.trim();
        if !token.starts_with("fh_") || token.len() != 67 {
            return None;
        }
        let row = self
            .lock()
            .query_row(
                "SELECT role, agent_id FROM tokens WHERE sha256 = ?1 AND revoked_at IS NULL",
                [token_hash(token)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional();
        let (role, agent) = match row {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, path = %self.path.display(), "reading the token store");
                return None;
            }
        };
        let role: Role = role.parse().ok()?;
        let agent_id = match agent {
            Some(a) => Some(Uuid::parse_str(&a).ok()?),
            None => None,
        };
        if role == Role::Partner && agent_id.is_none() {
            return None;
        }
        Some(Caller { role, agent_id })
    }
}

/// The dashboard logs in with the same tokens.
impl fieldhouse_dashboard::Authenticate for TokenStore {
    fn authenticate(&self, token: &str) -> Option<Caller> {
        TokenStore::authenticate(self, token)
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the authorization middleware needs.
#[derive(Clone)]
pub struct AuthState {
    pub tokens: Arc<TokenStore>,
    pub metrics: Arc<crate::metrics::ApiMetrics>,
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"fieldhouse\""));
    r
}

/// Route middleware: 401 without a valid token, 403 when the route's rule
/// does not admit the token's role (a route without a rule admits nobody);
/// otherwise the [`Caller`] goes into the request's extensions.
pub async fn authorize(State(state): State<AuthState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(req).await;
    };
    let Some(token) = bearer(req.headers()) else {
        state.metrics.auth_failure();
        return unauthorized(
            "this endpoint needs `Authorization: Bearer <token>`; `fieldhouse token create` makes one",
        );
    };
    let tokens = state.tokens.clone();
    let token = token.to_string();
    let caller = match tokio::task::spawn_blocking(move || tokens.authenticate(&token)).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            state.metrics.auth_failure();
            return unauthorized("the bearer token is not valid (unknown or revoked)");
        }
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let method = req.method().clone();
    let method = if method == Method::HEAD { Method::GET } else { method };
    match crate::routes::rule(&method, &path) {
        Some(rule) if rule.roles.contains(&caller.role) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Some(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("role `{}` may not use {} {path}", caller.role, method),
        )
        .into_response(),
        None => {
            tracing::error!(%method, %path, "route without an access rule: refused");
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("{method} {path} admits no role")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_hashed_bound_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open_in(dir.path()).unwrap();
        let agent = Uuid::now_v7();
        let t = store.create(Role::Partner, Some(agent), Some("acme")).unwrap();
        assert!(t.secret.starts_with("fh_") && t.secret.len() == 67);
        assert_eq!(store.authenticate(&t.secret), Some(Caller::partner(agent)));
        // The secret with its last character changed (to one it is not: a fixed "0" would leave it
        // unchanged in one run of sixteen).
        let other = if t.secret.ends_with('0') { '1' } else { '0' };
        assert_eq!(store.authenticate(&format!("{}{other}", &t.secret[..66])), None);
        // Only the hash is on disk.
        let raw = std::fs::read(dir.path().join("auth.db")).unwrap();
        assert!(!raw.windows(20).any(|w| w == &t.secret.as_bytes()[3..23]));
        assert!(store.create(Role::Partner, None, None).is_err());
        assert!(store.create(Role::Manager, Some(agent), None).is_err());
        let m = store.create(Role::Manager, None, None).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        assert!(matches!(store.revoke("0000"), Err(TokenError::Invalid(_))));
        // By the whole id: two ids made in the same millisecond share their first 13 characters.
        let revoked = store.revoke(&t.info.id.to_string()).unwrap();
        assert!(revoked.revoked_at.is_some());
        assert_eq!(store.authenticate(&t.secret), None);
        assert_eq!(store.authenticate(&m.secret), Some(Caller::with_role(Role::Manager)));
        // A second process sees the revocation.
        let again = TokenStore::open_in(dir.path()).unwrap();
        assert_eq!(again.authenticate(&t.secret), None);
        assert_eq!(
            bearer(&{
                let mut h = axum::http::HeaderMap::new();
                h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
                h
            }),
            Some("abc")
        );
    }
}
