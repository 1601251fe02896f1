//! The simulator over HTTP against a real server on 127.0.0.1:0 (the API
//! with bearer-token auth): the same simulation through the library and over
//! HTTP writes the same outbox, refusals map to the same errors, and a
//! request without a valid token ends the run with the server's 401. (Here,
//! not in `sim/tests/`: the server is the API crate, a layer above the
//! simulator.)
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::scratch;
use fieldhouse_api::{ApiState, ServeConfig, TokenStore, app, serve_on};
use fieldhouse_domain::event::Event;
use fieldhouse_engine::{Engine, EngineConfig, Role};
use fieldhouse_ops::{Ops, OpsConfig};
use fieldhouse_sim::calls::Mapped;
use fieldhouse_sim::http::{HttpCore, HttpError};
use fieldhouse_sim::ops_core::OpsCore;
use fieldhouse_sim::{Backend, Error, Op, Outcome, SimConfig, Size, simulate, simulate_http};
use uuid::Uuid;

/// A server over `<dir>/ops.db` (ids seeded with `seed`, as the library
/// path's are) on a loopback port of its own runtime thread.
struct Server {
    base: String,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(dir: &Path, seed: u64) -> Server {
        let ops = Ops::open(&dir.join("ops.db"), OpsConfig { id_seed: Some(seed) }).unwrap();
        let tokens = TokenStore::open_in(dir).unwrap();
        let token = tokens.create(Role::Admin, None, Some("simulator")).unwrap().secret;
        let engine = Engine::new(EngineConfig::new(dir)).unwrap();
        let state = ApiState::new(ops, engine, Arc::new(tokens), dir, ServeConfig::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                serve_on(listener, app(state), shutdown, std::time::Duration::from_secs(1)).await.unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server { base: format!("http://{addr}"), token, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every outbox event of `<dir>/ops.db` in `seq` order, `recorded_at` (the
/// only field allowed to differ between two runs) cleared.
fn outbox(dir: &Path) -> Vec<Event> {
    common::outbox(dir).into_iter().map(|e| Event { recorded_at: None, ..e }).collect()
}

#[test]
fn a_simulation_over_http_writes_the_same_outbox_as_through_the_library() {
    let cfg = SimConfig { months: 1, technicians: 4, units_per_technician: 120, ..SimConfig::preset(Size::Small) };
    let (lib, srv) = (scratch(), scratch());
    let t = std::time::Instant::now();
    let library = simulate(lib.path(), &cfg, None).unwrap();
    eprintln!("library: {} events in {:.1} s", library.events, t.elapsed().as_secs_f64());

    let server = Server::start(srv.path(), cfg.seed);
    let days = std::cell::Cell::new(0u64);
    let t = std::time::Instant::now();
    let over_http =
        simulate_http(&server.base, Some(&server.token), &cfg, Some(&|_| days.set(days.get() + 1))).unwrap();
    eprintln!("http: {} events in {:.1} s", over_http.events, t.elapsed().as_secs_f64());
    // A second run against the same server is refused, not mixed in.
    let again = simulate_http(&server.base, Some(&server.token), &cfg, None);
    assert!(matches!(again, Err(Error::NotEmpty { events, .. }) if events > 0), "{again:?}");
    drop(server);

    assert_eq!(library, over_http, "same summary (operations, refusals, events, stock-outs, ...)");
    assert!(days.get() >= 28, "progress reported per day: {}", days.get());
    let (a, b) = (outbox(lib.path()), outbox(srv.path()));
    assert!(a.len() > 500, "{} events", a.len());
    assert!(library.parts_consumed > 0 && library.invoices > 0 && library.mobile_batches > 0, "{library:#?}");
    assert_eq!(a.len(), b.len(), "event count");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        panic!("first difference at event {i}:\nlibrary {}\nhttp    {}", a[i].to_json(), b[i].to_json());
    }
    assert_eq!(library.events, a.len() as u64);
}

#[test]
fn refusals_over_http_are_the_library_refusals() {
    let (lib, srv) = (scratch(), scratch());
    let mut local = OpsCore::new(Ops::open(&lib.path().join("ops.db"), OpsConfig { id_seed: Some(1) }).unwrap());
    let server = Server::start(srv.path(), 1);
    let mut remote = Mapped::new(HttpCore::new(&server.base, Some(&server.token)).unwrap());
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let ops = [
        Op::Assign { order_id: Uuid::nil(), technician_id: Uuid::nil() },
        Op::Complete { order_id: Uuid::nil() },
        Op::RegisterCustomer {
            customer_id: Uuid::nil(),
            name: "Clinic".into(),
            segment: fieldhouse_domain::event::Segment::Enterprise,
            payment_terms_days: -5,
        },
        Op::SuggestTechnicians { order_id: Uuid::nil() },
    ];
    for op in ops {
        let name = op.name();
        let (l, r) = (local.apply(at, op.clone()), remote.apply(at, op));
        match (&l, &r) {
            (Err(Error::Refused { message: ml, .. }), Err(Error::Refused { message: mr, .. })) => {
                assert_eq!(ml, mr, "{name}");
            }
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
            _ => panic!("{name}: library {l:?}, http {r:?}"),
        }
    }
    // Something succeeds the same way on both, too.
    let op = Op::RegisterManufacturer { manufacturer_id: Uuid::nil(), name: "Acme".into() };
    assert_eq!(local.apply(at, op.clone()).unwrap(), Outcome::Done);
    assert_eq!(remote.apply(at, op).unwrap(), Outcome::Done);
    assert_eq!(local.events_written(), 1);
    assert_eq!(remote.events_written(), 1);
}

#[test]
fn without_a_valid_token_the_run_ends_with_the_servers_401() {
    let srv = scratch();
    let server = Server::start(srv.path(), 1);
    let cfg = SimConfig { months: 1, technicians: 4, ..SimConfig::preset(Size::Small) };
    for token in [None, Some("fh_0000000000000000000000000000000000000000000000000000000000000000")] {
        let r = simulate_http(&server.base, token, &cfg, None);
        let Err(Error::Backend { op, source }) = r else { panic!("{r:?}") };
        assert_ne!(op, "connect", "the open /healthz answered; the first operation was refused");
        match source.downcast_ref::<HttpError>() {
            Some(HttpError::Status { status: 401, code, .. }) => assert_eq!(code, "unauthorized"),
            other => panic!("{other:?}"),
        }
    }
    // Nothing was written.
    assert_eq!(HttpCore::new(&server.base, None).unwrap().outbox_seq().unwrap(), 0);
    // Nobody listening: a transport error, not a refusal.
    drop(server);
    let gone = HttpCore::new("http://127.0.0.1:9", None).unwrap().outbox_seq();
    assert!(matches!(gone, Err(HttpError::Transport { .. })), "{gone:?}");
}
