//! End to end over a real socket: a server on 127.0.0.1:0, a minimal HTTP/1.1 client.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::{Server, request, start_in, test_config};

/// A call with the admin token.
async fn call(srv: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let r = request(srv.addr, method, path, Some(srv.token("admin")), &[], body.map(str::as_bytes)).await;
    let v = if r.body.is_empty() { Value::Null } else { r.json() };
    (r.status, v)
}

fn id(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}")).to_string()
}

#[tokio::test]
async fn full_order_lifecycle_and_error_codes_over_http() {
    let srv = start_in(tempfile::tempdir().unwrap(), test_config(), &[]).await;
    let addr = &srv;

    // /healthz is open.
    let r = request(srv.addr, "GET", "/healthz", None, &[], None).await;
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));

    let at = "\"at\":\"2026-03-10T08:00:00Z\"";
    let (s, c) = call(
        addr,
        "POST",
        "/api/v1/customers",
        Some(&format!(r#"{{"name":"Clinic","segment":"enterprise","payment_terms_days":30,{at}}}"#)),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let customer = id(&c, "customer_id");
    let (s, site) = call(addr, "POST", "/api/v1/sites", Some(&format!(r#"{{"customer_id":"{customer}","name":"Mitte","region":"north","lat":52.52,"lon":13.4,"time_zone":"Europe/Berlin",{at}}}"#))).await;
    assert_eq!(s, 201, "{site}");
    let (_, m) = call(addr, "POST", "/api/v1/manufacturers", Some(&format!(r#"{{"name":"Acme",{at}}}"#))).await;
    let (_, p) = call(addr, "POST", "/api/v1/products", Some(&format!(r#"{{"manufacturer_id":"{}","model":"X1","family":"hvac","standard_repair_minutes":60,"warranty_months":12,{at}}}"#, id(&m, "manufacturer_id")))).await;
    let (s, eq) = call(
        addr,
        "POST",
        "/api/v1/equipment",
        Some(&format!(
            r#"{{"product_id":"{}","site_id":"{}","serial":"S-1","installed_on":"2020-01-01",{at}}}"#,
            id(&p, "product_id"),
            id(&site, "site_id")
        )),
    )
    .await;
    assert_eq!(s, 201, "{eq}");
    let (_, cal) = call(
        addr,
        "POST",
        "/api/v1/calendars",
        Some(&format!(r#"{{"calendar":{{"name":"24x7","tz":"Europe/Berlin","always_open":true}},{at}}}"#)),
    )
    .await;
    let (s, tech) = call(addr, "POST", "/api/v1/technicians", Some(&format!(r#"{{"name":"Ada","region":"north","skills":["hvac"],"shift_calendar_id":"{}","home_lat":52.5,"home_lon":13.3,{at}}}"#, id(&cal, "calendar_id")))).await;
    assert_eq!(s, 201, "{tech}");
    let tech = id(&tech, "technician_id");
    let (_, part) = call(addr, "POST", "/api/v1/parts", Some(&format!(r#"{{"part_number":"P-1","description":"pump","component":"pump","cost_cents":5000,"price_cents":10000,"currency":"EUR",{at}}}"#))).await;
    let part = id(&part, "part_id");
    let (_, van) = call(
        addr,
        "POST",
        "/api/v1/stock-locations",
        Some(&format!(r#"{{"kind":"van","name":"van","region":"north","technician_id":"{tech}",{at}}}"#)),
    )
    .await;
    let van = id(&van, "location_id");
    let (s, lvl) = call(
        addr,
        "POST",
        "/api/v1/stock/receipts",
        Some(&format!(r#"{{"location_id":"{van}","part_id":"{part}","quantity":1,{at}}}"#)),
    )
    .await;
    assert_eq!((s, lvl["on_hand"].as_i64()), (200, Some(1)));

    // Open (no `at`: the server's now is used) and run the lifecycle.
    let (s, o) = call(
        addr,
        "POST",
        "/api/v1/orders",
        Some(&format!(
            r#"{{"equipment_id":"{}","order_type":"corrective","channel":"phone","priority":"P2","fault_code":"E-1"}}"#,
            id(&eq, "equipment_id")
        )),
    )
    .await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["entitlement"], "time_and_material");
    let order = id(&o, "order_id");
    let (s, sug) = call(addr, "GET", &format!("/api/v1/orders/{order}/suggestions"), None).await;
    assert_eq!(s, 200);
    assert_eq!(sug[0]["technician_id"].as_str(), Some(tech.as_str()));
    let steps: Vec<(&str, String)> = vec![
        ("assign", format!(r#"{{"technician_id":"{tech}"}}"#)),
        ("travel", "{}".into()),
        ("arrive", r#"{"lat":52.52,"lon":13.4}"#.into()),
        ("parts", format!(r#"{{"part_id":"{part}","location_id":"{van}","quantity":1}}"#)),
        ("work", r#"{"minutes":60}"#.into()),
        ("end-visit", r#"{"outcome":"fixed"}"#.into()),
        ("complete", "{}".into()),
        ("close", r#"{"signed_by":"Dr. Who","csat":5}"#.into()),
    ];
    for (action, body) in &steps {
        let (s, v) = call(addr, "POST", &format!("/api/v1/orders/{order}/{action}"), Some(body)).await;
        assert_eq!(s, 200, "{action}: {v}");
    }
    let (s, inv) = call(addr, "POST", &format!("/api/v1/orders/{order}/invoice"), Some("{}")).await;
    assert_eq!(s, 201, "{inv}");
    // 60 min at 95.00 = 9500 + part 10000 (+ travel of ~0 min) → at least 19500.
    let total = inv["total_cents"].as_i64().unwrap();
    assert!(total >= 19500, "{inv}");
    let (s, inv2) = call(
        addr,
        "POST",
        &format!("/api/v1/invoices/{}/payments", id(&inv, "invoice_id")),
        Some(&format!(r#"{{"amount_cents":{total}}}"#)),
    )
    .await;
    assert_eq!((s, inv2["outstanding_cents"].as_i64()), (200, Some(0)));

    // Errors: 409 transition, 409 out of stock, 422 invalid, 404 unknown id / route, 400 malformed, 413.
    let (s, e) = call(addr, "POST", &format!("/api/v1/orders/{order}/travel"), Some("{}")).await;
    assert_eq!((s, e["error"].as_str()), (409, Some("transition_not_allowed")), "{e}");
    let (s, e) =
        call(addr, "POST", "/api/v1/customers", Some(r#"{"name":"X","segment":"smb","payment_terms_days":-1}"#)).await;
    assert_eq!((s, e["error"].as_str()), (422, Some("invalid")), "{e}");
    let (s, e) = call(addr, "GET", "/api/v1/orders/0192e4c8-0000-7000-8000-000000000000", None).await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = call(addr, "GET", "/api/v1/nothing-here", None).await;
    assert_eq!((s, e["error"].as_str()), (404, Some("not_found")), "{e}");
    let (s, e) = call(addr, "POST", "/api/v1/orders", Some("{not json")).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("malformed")), "{e}");
    let (s, e) = call(addr, "POST", "/api/v1/orders", Some(r#"{"equipment_id":"nope"}"#)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("malformed")), "{e}");
    let (s, e) = call(addr, "GET", "/api/v1/orders/not-a-uuid", None).await;
    assert_eq!(s, 400, "{e}");
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(2 << 20));
    let (s, e) = call(addr, "POST", "/api/v1/manufacturers", Some(&big)).await;
    assert_eq!((s, e["error"].as_str()), (413, Some("body_too_large")), "{e}");

    // Mobile sync and pagination.
    let (s, r) = call(addr, "POST", "/api/v1/mobile/sync", Some(&format!(r#"{{"technician_id":"{tech}","actions":[{{"client_id":"x1","order_id":"{order}","at":"2026-03-10T09:00:00Z","type":"travel"}}]}}"#))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["results"][0]["status"], "rejected");
    let (s, page1) = call(addr, "GET", "/api/v1/customers?limit=1", None).await;
    assert_eq!(s, 200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 1);
    assert_eq!(page1["next_after"].as_str(), Some(customer.as_str()));
    let (_, page2) = call(addr, "GET", &format!("/api/v1/customers?limit=1&after={customer}"), None).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 0);
    let (s, ob) = call(addr, "GET", "/api/v1/outbox?after=0&limit=1000", None).await;
    assert_eq!(s, 200);
    assert!(ob["items"].as_array().unwrap().len() > 15);

    srv.stop().await;
}

#[tokio::test]
async fn operational_routes_need_a_token_and_a_role_that_may() {
    let agent = uuid::Uuid::now_v7();
    let srv = start_in(tempfile::tempdir().unwrap(), test_config(), &[("partner", agent)]).await;
    let customer = r#"{"name":"Clinic","segment":"enterprise","payment_terms_days":30}"#;
    // No token, a bad token, a revoked token: 401 with a Bearer challenge.
    let r = srv.post("/api/v1/customers", None, customer).await;
    assert_eq!((r.status, r.error().as_str()), (401, "unauthorized"), "{}", r.text());
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let bad = format!("fh_{}", "0".repeat(64));
    let r = request(srv.addr, "GET", "/api/v1/orders", Some(&bad), &[], None).await;
    assert_eq!(r.status, 401);
    // Roles: manager writes master data, a technician may not; a partner reads no operational route.
    assert_eq!(srv.post("/api/v1/customers", Some("manager"), customer).await.status, 201);
    let r = srv.post("/api/v1/customers", Some("technician"), customer).await;
    assert_eq!((r.status, r.error().as_str()), (403, "forbidden"), "{}", r.text());
    assert!(r.message().contains("technician"), "{}", r.message());
    assert_eq!(srv.get("/api/v1/customers", Some("technician")).await.status, 200);
    for path in ["/api/v1/customers", "/api/v1/orders", "/api/v1/claims", "/api/v1/invoices", "/api/v1/stock"] {
        assert_eq!(srv.get(path, Some("partner")).await.status, 403, "{path}");
    }
    assert_eq!(srv.get("/api/v1/outbox", Some("manager")).await.status, 403);
    assert_eq!(srv.get("/api/v1/outbox", Some("admin")).await.status, 200);
    // Money needs finance or admin.
    let r = srv.post("/api/v1/billing/fee-runs", Some("dispatcher"), "{}").await;
    assert_eq!(r.status, 403);
    // A bad parameter names it.
    let r = srv.get("/api/v1/orders?state=sleeping", Some("dispatcher")).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("state") || r.message().contains("sleeping"), "{}", r.message());
    // Revocation applies to the next request.
    let id = srv.state.tokens.list().unwrap().into_iter().find(|t| t.role.as_str() == "manager").unwrap().id;
    srv.state.tokens.revoke(&id.to_string()).unwrap();
    assert_eq!(srv.get("/api/v1/customers", Some("manager")).await.status, 401);
    // Every response carries a request id; a client's own is kept.
    let r = request(srv.addr, "GET", "/healthz", None, &[("x-request-id", "abc-123")], None).await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    assert!(srv.get("/healthz", None).await.header("x-request-id").is_some_and(|v| v.len() == 36));
    srv.stop().await;
}
