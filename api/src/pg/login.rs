//! Logging in: the password is a Fieldhouse token, and a role that may use
//! SQL gets a connection with its own engine and `pg_catalog`.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_pg_catalog::pg_catalog::PgCatalogSchemaProvider;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use fieldhouse_engine::{Engine, SessionOptions};
use futures::Sink;
use pgwire::api::auth::{StartupHandler, finish_authentication};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::errors::{user_error, user_fatal};
use super::session::Catalogs;
use super::{PgConn, PgServer};

impl PgServer {
    pub(super) fn conn<C: ClientInfo>(&self, client: &C) -> PgWireResult<Arc<PgConn>> {
        client.session_extensions().get::<PgConn>().ok_or_else(|| user_error("28000", "not logged in".to_string()))
    }

    /// Log in: the password is a Fieldhouse token of a role that may use SQL.
    async fn login(&self, token: String) -> PgWireResult<PgConn> {
        let tokens = self.state.tokens.clone();
        let caller = tokio::task::spawn_blocking(move || tokens.authenticate(&token))
            .await
            .map_err(|e| user_error("XX000", format!("checking the token: {e}")))?;
        let Some(caller) = caller else {
            self.state.metrics.auth_failure();
            return Err(user_fatal(
                "28P01",
                "password authentication failed: the password must be a valid Fieldhouse token",
            ));
        };
        if !crate::routes::SQL.contains(&caller.role) {
            return Err(user_fatal("42501", &format!("role `{}` may not use SQL", caller.role)));
        }
        let mut cfg = self.state.engine.config().clone();
        cfg.memory_limit = self.state.config.sql_memory_mib << 20;
        cfg.query_timeout = self.state.config.sql_timeout();
        let engine = Engine::new(cfg).map_err(|e| self.pg_error(&e))?.following(&self.state.engine);
        let catalogs = Catalogs::default();
        let pg_catalog = Arc::new(
            PgCatalogSchemaProvider::try_new(catalogs.clone(), self.statics.clone(), EmptyContextProvider)
                .map_err(|e| self.pg_error(&e))?,
        );
        tracing::info!(role = %caller.role, agent = ?caller.agent_id, "pg: logged in");
        Ok(PgConn {
            caller,
            engine,
            catalogs,
            pg_catalog,
            options: std::sync::Mutex::new(SessionOptions::default()),
            session: tokio::sync::Mutex::new(None),
        })
    }
}

#[async_trait]
impl StartupHandler for PgServer {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use futures::SinkExt;
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let token = pwd.into_password()?.password;
                let conn = self.login(token).await?;
                client.session_extensions().insert(conn);
                let (pid, secret) = RandomPidSecretKeyGenerator::default().generate(client);
                client.set_pid_and_secret_key(pid, secret);
                finish_authentication(client, self.params.as_ref()).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
