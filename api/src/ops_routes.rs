//! The operational endpoints under `/api/v1/`: master data, orders,
//! dispatch, maintenance, stock, invoices, claims, mobile sync, outbox.
//!
//! Bodies are JSON command structs of `fieldhouse_ops`; a command's `at`
//! (the instant it happened) is filled with the server's now when the client
//! leaves it out. Lists take `?limit=` (default 100, max 1000) and
//! `?after=<last id of the previous page>` and answer
//! `{"items": [...], "next_after": "<id>" | null}`.
//! The SQLite core is blocking: every call runs on the blocking pool.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use fieldhouse_ops::claims::ClaimState;
use fieldhouse_ops::master::MasterKind;
use fieldhouse_ops::orders::{OrderFilter, OrderState};
use fieldhouse_ops::{Ops, Page};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// Largest accepted request body (a mobile batch of a few thousand actions).
pub const BODY_LIMIT_BYTES: usize = 1 << 20;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub ops: Ops,
}

type Body = Result<Bytes, BytesRejection>;
type ApiResult<T> = Result<T, ApiError>;

/// A page of a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `null` on the last page.
    pub next_after: Option<String>,
}

/// Decode a JSON body into a command, filling `at` with now when absent.
pub fn parse_body<C: DeserializeOwned>(body: Body) -> ApiResult<C> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body exceeds {BODY_LIMIT_BYTES} bytes"),
            )
        } else {
            ApiError::malformed(r.body_text())
        }
    })?;
    let mut value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::malformed(format!("the body is not JSON: {e}")))?;
    match &mut value {
        Value::Object(map) => {
            if !map.contains_key("at") {
                map.insert("at".into(), serde_json::to_value(Utc::now()).unwrap_or(Value::Null));
            }
        }
        _ => return Err(ApiError::malformed("the body must be a JSON object")),
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." { ApiError::malformed(inner) } else { ApiError::malformed(format!("{path}: {inner}")) }
    })
}

fn parse_id(s: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::malformed(format!("`{s}` is not a UUID")))
}

fn query<Q>(q: Result<Query<Q>, QueryRejection>) -> ApiResult<Q> {
    q.map(|Query(q)| q).map_err(|e| ApiError::malformed(e.body_text()))
}

/// Run a blocking call of the core on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: AppState,
    f: impl FnOnce(&Ops) -> fieldhouse_ops::Result<T> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(move || f(&state.ops)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(join) => Err(ApiError::internal(&join)),
    }
}

async fn create<C, R>(
    state: AppState,
    body: Body,
    f: fn(&Ops, C) -> fieldhouse_ops::Result<R>,
) -> ApiResult<(StatusCode, Json<R>)>
where
    C: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let cmd: C = parse_body(body)?;
    Ok((StatusCode::CREATED, Json(blocking(state, move |ops| f(ops, cmd)).await?)))
}

async fn act<C, R>(
    state: AppState,
    id: String,
    body: Body,
    f: fn(&Ops, Uuid, C) -> fieldhouse_ops::Result<R>,
) -> ApiResult<Json<R>>
where
    C: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let id = parse_id(&id)?;
    let cmd: C = parse_body(body)?;
    Ok(Json(blocking(state, move |ops| f(ops, id, cmd)).await?))
}

async fn run<C, R>(state: AppState, body: Body, f: fn(&Ops, C) -> fieldhouse_ops::Result<R>) -> ApiResult<Json<R>>
where
    C: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let cmd: C = parse_body(body)?;
    Ok(Json(blocking(state, move |ops| f(ops, cmd)).await?))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    after: Option<String>,
}

impl PageQuery {
    fn page(&self) -> Page {
        Page { limit: self.limit, after: self.after.clone() }
    }
}

fn paged<T>(items: Vec<T>, page: &Page, id: impl Fn(&T) -> String) -> ListPage<T> {
    let full = items.len() >= page.limit.unwrap_or(Page::DEFAULT_LIMIT).clamp(1, Page::MAX_LIMIT);
    let next_after = if full { items.last().map(id) } else { None };
    ListPage { items, next_after }
}

fn master_id(kind: MasterKind, v: &Value) -> String {
    let key = match kind {
        MasterKind::Customer => "customer_id",
        MasterKind::Site => "site_id",
        MasterKind::Manufacturer => "manufacturer_id",
        MasterKind::Product => "product_id",
        MasterKind::Equipment => "equipment_id",
        MasterKind::Calendar => "calendar_id",
        MasterKind::Contract => "contract_id",
        MasterKind::Agent => "agent_id",
        MasterKind::Technician => "technician_id",
        MasterKind::Part => "part_id",
        MasterKind::StockLocation => "location_id",
        MasterKind::MaintenancePlan => "plan_id",
    };
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

async fn list_master(
    state: AppState,
    q: Result<Query<PageQuery>, QueryRejection>,
    kind: MasterKind,
) -> ApiResult<Json<ListPage<Value>>> {
    let page = query(q)?.page();
    let p = page.clone();
    let items = blocking(state, move |ops| ops.list_master(kind, &p)).await?;
    Ok(Json(paged(items, &page, |v| master_id(kind, v))))
}

async fn get_master(state: AppState, id: String, kind: MasterKind) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    Ok(Json(blocking(state, move |ops| ops.master(kind, id)).await?))
}

/// Routes for one kind of master data: `POST /`, `GET /`, `GET /{id}`.
macro_rules! master_routes {
    ($router:expr, $path:literal, $kind:expr, $create:path) => {
        $router
            .route(
                $path,
                post(|State(s): State<AppState>, b: Body| create(s, b, $create)).get(
                    |State(s): State<AppState>, q: Result<Query<PageQuery>, QueryRejection>| list_master(s, q, $kind),
                ),
            )
            .route(
                concat!($path, "/{id}"),
                get(|State(s): State<AppState>, Path(id): Path<String>| get_master(s, id, $kind)),
            )
    };
}

/// `POST /api/v1/orders/{id}/<action>` routes.
macro_rules! order_action {
    ($router:expr, $action:literal, $f:path) => {
        $router.route(
            concat!("/api/v1/orders/{id}/", $action),
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| act(s, id, b, $f)),
        )
    };
}

#[derive(Debug, Deserialize)]
struct OrderQuery {
    limit: Option<usize>,
    after: Option<String>,
    state: Option<OrderState>,
    technician_id: Option<Uuid>,
    equipment_id: Option<Uuid>,
}

async fn list_orders(
    State(s): State<AppState>,
    q: Result<Query<OrderQuery>, QueryRejection>,
) -> ApiResult<Json<ListPage<fieldhouse_ops::orders::OrderView>>> {
    let q = query(q)?;
    let page = Page { limit: q.limit, after: q.after };
    let filter = OrderFilter { state: q.state, technician_id: q.technician_id, equipment_id: q.equipment_id };
    let p = page.clone();
    let items = blocking(s, move |ops| ops.list_orders(&filter, &p)).await?;
    Ok(Json(paged(items, &page, |o| o.order_id.to_string())))
}

async fn get_order(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<fieldhouse_ops::orders::OrderView>> {
    let id = parse_id(&id)?;
    Ok(Json(blocking(s, move |ops| ops.order(id)).await?))
}

#[derive(Debug, Deserialize)]
struct SuggestQuery {
    limit: Option<usize>,
    at: Option<DateTime<Utc>>,
}

async fn suggestions(
    State(s): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<SuggestQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<fieldhouse_ops::dispatch::Suggestion>>> {
    let id = parse_id(&id)?;
    let q = query(q)?;
    let at = q.at.unwrap_or_else(Utc::now);
    let limit = q.limit.unwrap_or(10);
    Ok(Json(blocking(s, move |ops| ops.suggest_technicians(id, at, limit)).await?))
}

#[derive(Debug, Deserialize)]
struct StockQuery {
    location_id: Option<Uuid>,
    part_id: Option<Uuid>,
}

async fn stock_levels(
    State(s): State<AppState>,
    q: Result<Query<StockQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<fieldhouse_ops::stock::StockLevel>>> {
    let q = query(q)?;
    Ok(Json(blocking(s, move |ops| ops.stock_levels(q.location_id, q.part_id)).await?))
}

#[derive(Debug, Deserialize)]
struct InvoiceQuery {
    limit: Option<usize>,
    after: Option<String>,
    customer_id: Option<Uuid>,
    #[serde(default)]
    unpaid: bool,
}

async fn list_invoices(
    State(s): State<AppState>,
    q: Result<Query<InvoiceQuery>, QueryRejection>,
) -> ApiResult<Json<ListPage<fieldhouse_ops::billing::InvoiceView>>> {
    let q = query(q)?;
    let page = Page { limit: q.limit, after: q.after };
    let p = page.clone();
    let items = blocking(s, move |ops| ops.list_invoices(q.customer_id, q.unpaid, &p)).await?;
    Ok(Json(paged(items, &page, |i| i.invoice_id.to_string())))
}

async fn get_invoice(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<fieldhouse_ops::billing::InvoiceView>> {
    let id = parse_id(&id)?;
    Ok(Json(blocking(s, move |ops| ops.invoice(id)).await?))
}

#[derive(Debug, Deserialize)]
struct ClaimQuery {
    limit: Option<usize>,
    after: Option<String>,
    agent_id: Option<Uuid>,
    state: Option<ClaimState>,
}

async fn list_claims(
    State(s): State<AppState>,
    q: Result<Query<ClaimQuery>, QueryRejection>,
) -> ApiResult<Json<ListPage<fieldhouse_ops::claims::ClaimView>>> {
    let q = query(q)?;
    let page = Page { limit: q.limit, after: q.after };
    let p = page.clone();
    let items = blocking(s, move |ops| ops.list_claims(q.agent_id, q.state, &p)).await?;
    Ok(Json(paged(items, &page, |c| c.filed.claim_id.to_string())))
}

async fn get_claim(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<fieldhouse_ops::claims::ClaimView>> {
    let id = parse_id(&id)?;
    Ok(Json(blocking(s, move |ops| ops.claim(id)).await?))
}

async fn mobile_sync(State(s): State<AppState>, b: Body) -> ApiResult<Json<fieldhouse_ops::mobile::SyncReport>> {
    let batch: fieldhouse_ops::mobile::MobileBatch = parse_body(b)?;
    Ok(Json(blocking(s, move |ops| ops.sync_mobile(&batch)).await?))
}

#[derive(Debug, Deserialize)]
struct OutboxQuery {
    #[serde(default)]
    after: i64,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct OutboxItem {
    seq: i64,
    event: fieldhouse_domain::event::Event,
}

async fn outbox(State(s): State<AppState>, q: Result<Query<OutboxQuery>, QueryRejection>) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(Page::DEFAULT_LIMIT).clamp(1, Page::MAX_LIMIT);
    let rows = blocking(s, move |ops| ops.outbox_after(q.after, limit)).await?;
    let next_after = rows.last().map(|r| r.seq);
    let items: Vec<OutboxItem> = rows.into_iter().map(|r| OutboxItem { seq: r.seq, event: r.event }).collect();
    Ok(Json(serde_json::json!({ "items": items, "next_after": next_after })))
}

/// The operational routes, state applied: merge them with other routers
/// (their access rules are in [`crate::routes`]; `/healthz` is in [`crate::server`]).
pub fn router(state: AppState) -> Router {
    use fieldhouse_ops::billing as b;
    use fieldhouse_ops::claims as c;
    use fieldhouse_ops::master as m;
    let r = Router::new();
    let r = master_routes!(r, "/api/v1/customers", MasterKind::Customer, Ops::register_customer);
    let r = master_routes!(r, "/api/v1/sites", MasterKind::Site, Ops::register_site);
    let r = master_routes!(r, "/api/v1/manufacturers", MasterKind::Manufacturer, Ops::register_manufacturer);
    let r = master_routes!(r, "/api/v1/products", MasterKind::Product, Ops::define_product);
    let r = master_routes!(r, "/api/v1/equipment", MasterKind::Equipment, Ops::install_equipment);
    let r = master_routes!(r, "/api/v1/calendars", MasterKind::Calendar, Ops::define_calendar);
    let r = master_routes!(r, "/api/v1/contracts", MasterKind::Contract, Ops::sign_contract);
    let r = master_routes!(r, "/api/v1/agents", MasterKind::Agent, Ops::register_agent);
    let r = master_routes!(r, "/api/v1/technicians", MasterKind::Technician, Ops::hire_technician);
    let r = master_routes!(r, "/api/v1/parts", MasterKind::Part, Ops::define_part);
    let r = master_routes!(r, "/api/v1/stock-locations", MasterKind::StockLocation, Ops::define_stock_location);
    let r = master_routes!(r, "/api/v1/maintenance-plans", MasterKind::MaintenancePlan, Ops::define_maintenance_plan);
    let r = r
        .route(
            "/api/v1/equipment/{id}/decommission",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<m::DecommissionEquipment, _>(s, id, b, Ops::decommission_equipment)
            }),
        )
        .route(
            "/api/v1/contracts/{id}/terminate",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<m::TerminateContract, _>(s, id, b, Ops::terminate_contract)
            }),
        )
        .route(
            "/api/v1/technicians/{id}/leave",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<m::TechnicianLeaves, _>(s, id, b, Ops::technician_leaves)
            }),
        )
        .route(
            "/api/v1/orders",
            post(|State(s): State<AppState>, b: Body| create(s, b, Ops::open_order)).get(list_orders),
        )
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/suggestions", get(suggestions));
    let r = order_action!(r, "priority", Ops::change_priority);
    let r = order_action!(r, "assign", Ops::assign);
    let r = order_action!(r, "reassign", Ops::reassign);
    let r = order_action!(r, "travel", Ops::start_travel);
    let r = order_action!(r, "arrive", Ops::arrive);
    let r = order_action!(r, "pause", Ops::pause);
    let r = order_action!(r, "resume", Ops::resume);
    let r = order_action!(r, "work", Ops::log_work);
    let r = order_action!(r, "parts", Ops::consume_part);
    let r = order_action!(r, "end-visit", Ops::end_visit);
    let r = order_action!(r, "complete", Ops::complete);
    let r = order_action!(r, "close", Ops::close);
    let r = order_action!(r, "cancel", Ops::cancel);
    let r = order_action!(r, "reopen", Ops::reopen);
    let r = r
        .route(
            "/api/v1/orders/{id}/invoice",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| async move {
                act::<b::InvoiceOrder, _>(s, id, b, Ops::invoice_order).await.map(|j| (StatusCode::CREATED, j))
            }),
        )
        .route("/api/v1/maintenance/run", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::run_maintenance)))
        .route("/api/v1/stock", get(stock_levels))
        .route("/api/v1/stock/receipts", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::receive_stock)))
        .route("/api/v1/stock/transfers", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::transfer_stock)))
        .route("/api/v1/stock/counts", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::count_stock)))
        .route(
            "/api/v1/stock/reorder-points",
            post(|State(s): State<AppState>, b: Body| run(s, b, Ops::set_reorder_point)),
        )
        .route("/api/v1/invoices", get(list_invoices))
        .route("/api/v1/invoices/{id}", get(get_invoice))
        .route(
            "/api/v1/invoices/{id}/payments",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<b::RecordPayment, _>(s, id, b, Ops::record_payment)
            }),
        )
        .route(
            "/api/v1/invoices/{id}/credit-notes",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<b::IssueCreditNote, _>(s, id, b, Ops::issue_credit_note)
            }),
        )
        .route("/api/v1/billing/fee-runs", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::run_fee_billing)))
        .route(
            "/api/v1/claims",
            post(|State(s): State<AppState>, b: Body| create::<c::FileClaim, _>(s, b, Ops::file_claim))
                .get(list_claims),
        )
        .route("/api/v1/claims/{id}", get(get_claim))
        .route(
            "/api/v1/claims/{id}/approve",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<c::ApproveClaim, _>(s, id, b, Ops::approve_claim)
            }),
        )
        .route(
            "/api/v1/claims/{id}/reject",
            post(|State(s): State<AppState>, Path(id): Path<String>, b: Body| {
                act::<c::RejectClaim, _>(s, id, b, Ops::reject_claim)
            }),
        )
        .route("/api/v1/claims/settlements", post(|State(s): State<AppState>, b: Body| run(s, b, Ops::settle_claims)))
        .route("/api/v1/mobile/sync", post(mobile_sync))
        .route("/api/v1/outbox", get(outbox));
    r.layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)).with_state(state)
}
