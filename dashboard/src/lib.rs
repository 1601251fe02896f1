//! The KPI dashboard: server-rendered HTML pages per audience, charts drawn
//! with plotters as inline SVG, login by token in an `HttpOnly`,
//! `SameSite=Strict` cookie. No JavaScript: filters are a plain GET form.
//!
//! The server that mounts [`router`] supplies a [`DashboardState`]: the
//! engine, the process-wide KPI cache and an [`Authenticate`] that maps a
//! token to a [`Caller`]. Every KPI runs as that caller, so the engine
//! scopes a partner to its agent's rows.
//!
//! - [`pages`]: the pages per audience and their sections; who may read what
//!   (the KPI's audience in the catalog).
//! - [`sections`]: each section's KPI requests for the filters, and its card.
//! - [`data`]: answers from the KPI cache, kept per lake version and redrawn
//!   without waiting when nothing changed; filter choices and labels.
//! - [`filters`]: period, region, product, agent from the query string.
//! - [`auth`]: the session cookie.
//! - [`html`](mod@html): the page frame and CSS, login and error pages, as maud
//!   templates (maud escapes every value spliced into a page).

mod auth;
mod data;
mod filters;
mod html;
mod pages;
mod sections;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use fieldhouse_engine::cache::KpiCache;
use fieldhouse_engine::{Caller, Engine};
use maud::{Markup, html};
use serde::Deserialize;

use crate::filters::{FilterQuery, Filters};
use crate::pages::Page;

/// Maps a login token to the caller it stands for; `None` = unknown or revoked.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate(&self, token: &str) -> Option<Caller>;
}

/// What the dashboard needs from the server that mounts it.
#[derive(Clone)]
pub struct DashboardState {
    pub engine: Engine,
    pub cache: Arc<KpiCache>,
    pub auth: Arc<dyn Authenticate>,
    /// After a commit, a section shows its answer of an older lake version
    /// that was still the newest at most this long ago (or whose refresh is
    /// under way) while the newest is computed in the background (zero:
    /// always wait for the newest; see [`data`]).
    pub max_stale: std::time::Duration,
}

/// The dashboard's routes: `GET /` (the caller's home page), `GET`+`POST
/// /login`, `POST /logout`, `GET /dashboard/{page}` with `page` one of
/// `management`, `dispatch`, `engineering`, `finance`, `partner`.
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard/{page}", get(page))
        .with_state(state)
}

/// Compute the home page of each of `callers` with the default filters, so
/// that their first paint is served from memory (call at server start).
pub async fn warm(state: &DashboardState, callers: &[Caller]) {
    let Ok(filters) = Filters::parse(&FilterQuery::default()) else { return };
    for caller in callers {
        if let Some(page) = Page::home(state.engine.catalog(), caller.role)
            && let Err(e) = render(state, caller, page, &filters).await
        {
            tracing::warn!(role = %caller.role, error = %e.1, "warming the dashboard");
        }
    }
}

/// The Content-Security-Policy of every page: no scripts at all, styles
/// inline only, forms post to this origin.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

fn html_response(status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CSP));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
    r
}

fn redirect(to: &'static str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(LOCATION, HeaderValue::from_static(to));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(SET_COOKIE, c);
    }
    r
}

fn caller_of(state: &DashboardState, headers: &HeaderMap) -> Option<Caller> {
    auth::token_from(headers).and_then(|t| state.auth.authenticate(&t))
}

async fn home(State(state): State<DashboardState>, headers: HeaderMap, Query(q): Query<FilterQuery>) -> Response {
    let Some(caller) = caller_of(&state, &headers) else { return redirect("/login", None) };
    match Page::home(state.engine.catalog(), caller.role) {
        Some(p) => show(&state, &caller, p, &q).await,
        None => forbidden(),
    }
}

async fn page(
    State(state): State<DashboardState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(q): Query<FilterQuery>,
) -> Response {
    let Some(caller) = caller_of(&state, &headers) else { return redirect("/login", None) };
    let Some(p) = Page::from_slug(&slug) else {
        return html_response(
            StatusCode::NOT_FOUND,
            html::message_page("Not found", "There is no such dashboard page."),
        );
    };
    show(&state, &caller, p, &q).await
}

fn forbidden() -> Response {
    html_response(StatusCode::FORBIDDEN, html::message_page("Forbidden", "Your role may not read this page."))
}

async fn show(state: &DashboardState, caller: &Caller, page: Page, q: &FilterQuery) -> Response {
    if page.readable(state.engine.catalog(), caller.role).is_empty() {
        return forbidden();
    }
    let filters = match Filters::parse(q) {
        Ok(f) => f,
        Err(m) => return html_response(StatusCode::BAD_REQUEST, html::message_page("Bad filter", &m)),
    };
    match render(state, caller, page, &filters).await {
        Ok(body) => html_response(StatusCode::OK, body),
        Err((status, message)) => html_response(status, html::message_page("Dashboard unavailable", &message)),
    }
}

/// The whole page for `caller`.
async fn render(
    state: &DashboardState,
    caller: &Caller,
    page: Page,
    filters: &Filters,
) -> Result<Markup, (StatusCode, String)> {
    let started = std::time::Instant::now();
    let version = state.engine.lake_version().await.map_err(|e| {
        tracing::warn!(error = %e, "dashboard: reading the lake version");
        (StatusCode::SERVICE_UNAVAILABLE, "The data lake cannot be read right now.".to_string())
    })?;
    let version_ms = started.elapsed().as_millis();
    let names = data::names(state, caller, version).await;
    let names_ms = started.elapsed().as_millis() - version_ms;
    let catalog = state.engine.catalog();
    let ctx = sections::Ctx { state, caller, filters, names: &names, version };
    let cards = futures::future::join_all(page.readable(catalog, caller.role).into_iter().map(|s| {
        let ctx = &ctx;
        async move { sections::card(s, ctx).await }
    }))
    .await;
    tracing::debug!(
        page = page.slug(),
        version,
        version_ms,
        names_ms,
        sections_ms = started.elapsed().as_millis() - version_ms - names_ms,
        "dashboard page drawn"
    );

    let qs = filters.query_string();
    let pages: Vec<Page> = Page::ALL.iter().copied().filter(|p| !p.readable(catalog, caller.role).is_empty()).collect();
    let who = match &caller.agent_id {
        Some(a) => format!("{} · {}", caller.role, names.agent(&a.hyphenated().to_string())),
        None => caller.role.to_string(),
    };
    let body = html! {
        header {
            h1 { "Fieldhouse" }
            nav {
                @for p in &pages {
                    @let current = *p == page;
                    a href={ "/dashboard/" (p.slug()) (qs) }
                        class=[current.then_some("current")]
                        aria-current=[current.then_some("page")] { (p.title()) }
                }
            }
            div class="who" {
                span { (who) }
                form method="post" action="/logout" {
                    button type="submit" { "Sign out" }
                }
            }
        }
        main {
            (filter_form(page, filters, &names))
            div class="grid" {
                @for c in &cards {
                    (c)
                }
            }
        }
    };
    Ok(html::document(&format!("{} · Fieldhouse", page.title()), body))
}

/// One `<select>` of the filter form in its `<label>`: "all", the choices,
/// and the chosen value even when it is not among the choices.
fn select(name: &str, caption: &str, options: &[(String, String)], chosen: Option<&str>) -> Markup {
    let found = options.iter().any(|(id, _)| chosen == Some(id.as_str()));
    html! {
        label {
            (caption)
            select name=(name) id={ "filter-" (name) } {
                option value="" { "all" }
                @for (id, text) in options {
                    option value=(id) selected[chosen == Some(id.as_str())] { (text) }
                }
                @if let (Some(v), false) = (chosen, found) {
                    option value=(v) selected { (data::short_id(v)) }
                }
            }
        }
    }
}

fn filter_form(page: Page, f: &Filters, names: &data::Names) -> Markup {
    let regions: Vec<(String, String)> = names.regions.iter().map(|r| (r.clone(), r.clone())).collect();
    html! {
        form class="filters" method="get" action={ "/dashboard/" (page.slug()) } {
            label {
                "from"
                input type="date" name="from" id="filter-from" value=(f.from.format("%Y-%m-%d"));
            }
            label {
                "until (incl.)"
                input type="date" name="until" id="filter-until" value=(f.until.format("%Y-%m-%d"));
            }
            (select("region", "region", &regions, f.region.as_deref()))
            (select("product", "product", &names.products, f.product.as_deref()))
            (select("agent", "agent", &names.agents, f.agent.as_deref()))
            button type="submit" id="apply" { "Apply" }
        }
    }
}

async fn login_form() -> Response {
    html_response(StatusCode::OK, html::login_page(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<DashboardState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    match (!token.is_empty()).then(|| state.auth.authenticate(token)).flatten() {
        Some(caller) => {
            tracing::info!(role = %caller.role, "dashboard login");
            redirect("/", Some(auth::login_cookie(token)))
        }
        None => html_response(StatusCode::UNAUTHORIZED, html::login_page(Some("That token is not valid."))),
    }
}

async fn logout() -> Response {
    redirect("/login", Some(auth::logout_cookie()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filter_form_escapes_values_in_attributes_and_text() {
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        let hostile = "\"><script>alert(1)</script>";
        let f = Filters { from: day(1), until: day(31), region: Some(hostile.into()), product: None, agent: None };
        let names = data::Names { regions: vec!["North".into()], ..Default::default() };
        let form = filter_form(Page::Management, &f, &names).into_string();
        let escaped = "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
        assert_eq!(
            form,
            format!(
                "<form class=\"filters\" method=\"get\" action=\"/dashboard/management\">\
                 <label>from<input type=\"date\" name=\"from\" id=\"filter-from\" value=\"2026-10-01\">\
                 </label><label>until (incl.)\
                 <input type=\"date\" name=\"until\" id=\"filter-until\" value=\"2026-10-31\"></label>\
                 <label>region<select name=\"region\" id=\"filter-region\"><option value=\"\">all</option>\
                 <option value=\"North\">North</option>\
                 <option value=\"{escaped}\" selected>{escaped}</option></select></label>\
                 <label>product<select name=\"product\" id=\"filter-product\">\
                 <option value=\"\">all</option></select></label>\
                 <label>agent<select name=\"agent\" id=\"filter-agent\">\
                 <option value=\"\">all</option></select></label>\
                 <button type=\"submit\" id=\"apply\">Apply</button></form>"
            )
        );
        assert!(!form.contains("<script>"));
        // A chosen value among the choices is selected there, not added again.
        let f = Filters { region: Some("North".into()), ..f };
        let form = filter_form(Page::Management, &f, &names).into_string();
        assert!(form.contains("<option value=\"North\" selected>North</option></select>"), "{form}");
    }
}
