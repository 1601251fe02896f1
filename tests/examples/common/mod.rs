//! Shared by the examples: the API server in-process on a loopback port.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The full API (bearer-token auth, request ids, tracing and metrics layers)
/// over `<dir>/ops.db` on 127.0.0.1, on a runtime thread of its own;
/// stopped when dropped.
pub(crate) struct LocalServer {
    pub(crate) base: String,
    /// An admin token.
    pub(crate) token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    /// Serve `dir` with core ids seeded by `id_seed` (as `fieldhouse_sim::simulate` seeds them).
    pub(crate) fn start(dir: &Path, id_seed: Option<u64>) -> Result<LocalServer, BoxError> {
        let ops = fieldhouse_ops::Ops::open(&dir.join("ops.db"), fieldhouse_ops::OpsConfig { id_seed })?;
        let tokens = fieldhouse_api::TokenStore::open_in(dir)?;
        let token = tokens.create(fieldhouse_engine::Role::Admin, None, Some("bench"))?.secret;
        let engine = fieldhouse_engine::Engine::new(fieldhouse_engine::EngineConfig::new(dir))?;
        let config = fieldhouse_api::ServeConfig::default();
        let state = fieldhouse_api::ApiState::new(ops, engine, Arc::new(tokens), dir, config);
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let app = fieldhouse_api::app(state);
            if let Err(e) = rt.block_on(fieldhouse_api::serve_on(listener, app, shutdown, Duration::from_secs(1))) {
                eprintln!("server: {e}");
            }
        });
        Ok(LocalServer { base: format!("http://{addr}"), token, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
