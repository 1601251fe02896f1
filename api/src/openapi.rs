//! The OpenAPI 3.1 document of `GET /api/v1/openapi.json`, generated from
//! the route table ([`crate::routes`], which the authorization middleware
//! reads too) and the KPI catalog: one path per KPI with its typed
//! parameters and allowed dimensions, so a client can build a form from it.

use fieldhouse_engine::catalog::{Catalog, ParamType};
use serde_json::{Map, Value, json};

use crate::encode::OutFormat;
use crate::routes::{self, Body, RouteDoc};

fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn path_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        out.push(rest[start + 1..start + end].trim_start_matches('*').to_string());
        rest = &rest[start + end + 1..];
    }
    out
}

fn operation_id(r: &RouteDoc) -> String {
    let slug: String =
        r.path.trim_start_matches("/api/v1").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let slug: Vec<&str> = slug.split('_').filter(|s| !s.is_empty()).collect();
    format!("{}_{}", r.method.as_str().to_ascii_lowercase(), slug.join("_"))
}

fn error_responses(extra: &[(&str, &str)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (code, text) in [
        ("400", "A bad parameter or body (the message names it)"),
        ("401", "No valid bearer token"),
        ("403", "The token's role may not do this"),
        ("404", "No such object"),
    ]
    .iter()
    .chain(extra)
    {
        m.insert((*code).to_string(), json!({"$ref": format!("#/components/responses/E{code}"), "description": text}));
    }
    m
}

fn result_content() -> Value {
    let mut c = Map::new();
    for f in OutFormat::ALL {
        let schema = match f {
            OutFormat::Json => json!({"type": "array", "items": {"type": "object"}}),
            OutFormat::Ndjson | OutFormat::Csv => json!({"type": "string"}),
            OutFormat::Arrow | OutFormat::Parquet => json!({"type": "string", "contentEncoding": "binary"}),
        };
        let media = f.media_type().split(';').next().unwrap_or_default().to_string();
        c.insert(media, json!({ "schema": schema }));
    }
    Value::Object(c)
}

fn query_param(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

fn common_kpi_params(dimensions: Option<&[String]>) -> Vec<Value> {
    let by_schema = match dimensions {
        Some(d) => {
            json!({"type": "string", "description": format!("comma-separated, from: {}", if d.is_empty() { "none".into() } else { d.join(", ") })})
        }
        None => json!({"type": "string"}),
    };
    let formats: Vec<&str> = OutFormat::ALL.iter().map(|f| f.name()).collect();
    vec![
        query_param("by", "Group-by dimensions, comma-separated", by_schema, false),
        query_param("format", "Result format (else by Accept)", json!({"type": "string", "enum": formats}), false),
        query_param("as_of", "Lake version number, RFC 3339 instant or date", json!({"type": "string"}), false),
        query_param(
            "now",
            "Reference instant for ages and SLA states",
            json!({"type": "string", "format": "date-time"}),
            false,
        ),
        query_param("cache", "false: compute afresh and stream", json!({"type": "boolean", "default": true}), false),
    ]
}

fn param_schema(ty: ParamType) -> Value {
    match ty {
        ParamType::Timestamp => json!({"type": "string", "description": "RFC 3339 instant or YYYY-MM-DD"}),
        ParamType::Date => json!({"type": "string", "format": "date"}),
        ParamType::Text => json!({"type": "string"}),
        ParamType::Int => json!({"type": "integer"}),
        ParamType::Float => json!({"type": "number"}),
        ParamType::Bool => json!({"type": "boolean"}),
    }
}

fn operation(r: &RouteDoc, catalog: &Catalog) -> Value {
    let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
    let mut params: Vec<Value> = path_params(&r.path)
        .into_iter()
        .map(|p| {
            let schema = if p == "name" && r.path.starts_with("/api/v1/kpis") {
                json!({"type": "string", "enum": catalog.list().map(|k| k.name.clone()).collect::<Vec<_>>()})
            } else {
                json!({"type": "string"})
            };
            json!({"name": p, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(r)));
    op.insert("summary".into(), json!(r.summary));
    op.insert("tags".into(), json!([r.tag]));
    op.insert("description".into(), json!(format!("Roles: {}.", roles.join(", "))));
    op.insert("x-roles".into(), json!(roles));
    let mut responses = error_responses(&[]);
    let ok = match (r.path.as_str(), r.body) {
        ("/api/v1/kpis/{name}", _) => {
            params.extend(common_kpi_params(None));
            responses =
                error_responses(&[("406", "No acceptable format"), ("422", "Stopped by a time or memory limit")]);
            json!({"description": "The KPI's rows; headers x-lake-version, x-computed-at", "content": result_content()})
        }
        ("/api/v1/sql", _) => {
            responses =
                error_responses(&[("406", "No acceptable format"), ("422", "Stopped by a time or memory limit")]);
            json!({"description": "The query's rows (at most x-row-limit)", "content": result_content()})
        }
        ("/metrics", _) => {
            json!({"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}})
        }
        ("/api/v1/reports/files/{*path}", _) => {
            json!({"description": "The file", "content": {"application/octet-stream": {"schema": {"type": "string", "contentEncoding": "binary"}}}})
        }
        ("/api/v1/kpis", _) => {
            json!({"description": "The KPI catalog", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KpiCatalog"}}}})
        }
        ("/api/v1/reports", _) => {
            params.push(query_param("report", "Only this report", json!({"type": "string"}), false));
            params.push(query_param("period", "Only this period", json!({"type": "string"}), false));
            json!({"description": "Written reports", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportList"}}}})
        }
        _ => json!({"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}),
    };
    let ok_code = if r.method == axum::http::Method::POST && r.body == Body::Command { "2XX" } else { "200" };
    responses.insert(ok_code.into(), ok);
    match r.body {
        Body::None => {}
        Body::Command => {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "The command; `at` defaults to now"}}}}),
            );
        }
        Body::Sql => {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SqlRequest"}},
                    "application/sql": {"schema": {"type": "string"}}}}),
            );
        }
        Body::Events => {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "text/csv": {"schema": {"type": "string"}}}}),
            );
            params.push(
                json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}}),
            );
        }
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

fn kpi_operation(k: &fieldhouse_engine::KpiDef) -> Value {
    let mut params: Vec<Value> = k
        .params
        .iter()
        .map(|p| {
            let mut schema = param_schema(p.ty);
            if let (Some(d), Value::Object(m)) = (&p.default, &mut schema) {
                m.insert("default".into(), json!(d));
            }
            query_param(&p.name, &p.description, schema, !p.optional)
        })
        .collect();
    params.extend(common_kpi_params(Some(&k.dimensions)));
    let roles: Vec<&str> = k.audience.iter().map(|r| r.as_str()).collect();
    let mut responses =
        error_responses(&[("406", "No acceptable format"), ("422", "Stopped by a time or memory limit")]);
    responses.insert(
        "200".into(),
        json!({"description": format!("{} ({}); {}", k.title, k.unit, k.grain), "content": result_content()}),
    );
    json!({
        "operationId": format!("kpi_{}", k.name),
        "summary": k.title,
        "description": format!("{}\n\nUnit: {}. Grain: {}. Audience: {}.", k.description, k.unit, k.grain, roles.join(", ")),
        "tags": ["kpi"],
        "x-roles": roles,
        "parameters": params,
        "responses": responses,
    })
}

/// The OpenAPI document for `catalog`.
pub fn document(catalog: &Catalog) -> Value {
    let mut paths = Map::new();
    let mut add = |path: String, method: &str, op: Value| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(method.to_string(), op);
        }
    };
    for r in routes::all() {
        add(openapi_path(&r.path), &r.method.as_str().to_ascii_lowercase(), operation(r, catalog));
    }
    for k in catalog.list() {
        add(format!("/api/v1/kpis/{}", k.name), "get", kpi_operation(k));
    }
    add(
        "/healthz".into(),
        "get",
        json!({"operationId": "get_healthz", "summary": "Liveness and the outbox sequence", "tags": ["meta"],
               "security": [], "responses": {"200": {"description": "OK",
               "content": {"application/json": {"schema": {"type": "object"}}}}}}),
    );
    let mut responses = Map::new();
    for code in ["400", "401", "403", "404", "406", "422"] {
        responses.insert(
            format!("E{code}"),
            json!({"description": format!("Error {code}"),
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Fieldhouse API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "KPIs, read-only SQL, reports and the operational core of Fieldhouse. \
                            Every route but /healthz needs `Authorization: Bearer <token>` \
                            (`fieldhouse token create`); x-roles lists the roles each admits.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": responses,
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "description": "A stable code word"},
                    "message": {"type": "string"}}},
                "SqlRequest": {"type": "object", "required": ["sql"], "additionalProperties": false, "properties": {
                    "sql": {"type": "string"}, "as_of": {"type": "string"},
                    "max_rows": {"type": "integer", "minimum": 1},
                    "format": {"type": "string", "enum": OutFormat::ALL.iter().map(|f| f.name()).collect::<Vec<_>>()}}},
                "KpiCatalog": {"type": "object", "properties": {"kpis": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                    "unit": {"type": "string"}, "grain": {"type": "string"}, "path": {"type": "string"},
                    "dimensions": {"type": "array", "items": {"type": "string"}},
                    "audience": {"type": "array", "items": {"type": "string"}},
                    "params": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "type": {"type": "string"}, "default": {"type": ["string", "null"]},
                        "optional": {"type": "boolean"}, "description": {"type": "string"}}}}}}}}},
                "ReportList": {"type": "object", "properties": {"reports": {"type": "array", "items": {"type": "object", "properties": {
                    "report": {"type": "string"}, "title": {"type": "string"}, "period": {"type": "string"},
                    "agent": {"type": ["string", "null"]}, "lake_version": {"type": "integer"},
                    "audience": {"type": "array", "items": {"type": "string"}}, "path": {"type": "string"},
                    "files": {"type": "array", "items": {"type": "string"}},
                    "downloads": {"type": "array", "items": {"type": "string"}}}}}}},
            },
        },
    })
}
