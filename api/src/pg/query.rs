//! Statements: what each is and whether the caller may run it, planning and
//! running it under the SQL limits, and the simple and extended query protocols.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type};
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use fieldhouse_engine::SqlLimits;
use futures::{Sink, StreamExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;

use super::errors::user_error;
use super::{PgConn, PgServer, SERVER_VERSION};
use crate::error::engine_error;

impl PgServer {
    /// What a statement is, and whether the caller may run it.
    fn classify(&self, conn: &PgConn, statement: Statement) -> PgWireResult<Kind> {
        Ok(match statement {
            Statement::Set(Set::SingleAssignment { variable, values, .. })
                if variable.to_string().to_ascii_lowercase().starts_with("fieldhouse.") =>
            {
                let name = variable.to_string().to_ascii_lowercase();
                let value = match values.as_slice() {
                    [Expr::Value(v)] => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        other => other.to_string(),
                    },
                    [other] => other.to_string(),
                    _ => return Err(user_error("22023", format!("SET {name}: one value expected"))),
                };
                Kind::Option(name, value)
            }
            // Client settings (DateStyle, extra_float_digits ...) and limits: answered, not applied.
            Statement::Set(_) => Kind::Done(Tag::new("SET")),
            Statement::StartTransaction { .. } => Kind::Begin,
            Statement::Commit { .. } => Kind::End("COMMIT"),
            Statement::Rollback { .. } => Kind::End("ROLLBACK"),
            Statement::Discard { .. } => Kind::Done(Tag::new("DISCARD ALL")),
            Statement::Deallocate { .. } => Kind::Done(Tag::new("DEALLOCATE")),
            Statement::ShowVariable { variable } => {
                let name = variable.iter().map(|i| i.value.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
                Kind::Run(Box::new(show_query(&name, self.state.config.sql_timeout_secs)?))
            }
            Statement::ShowTables { .. } | Statement::ShowColumns { .. } => Kind::Run(Box::new(statement)),
            Statement::Copy { .. } => {
                return Err(user_error("42501", "COPY is not allowed: the endpoint is read-only".into()));
            }
            other => {
                fieldhouse_engine::check_statement(&other, conn.caller.agent_id.is_none())
                    .map_err(|e| self.pg_error(&e))?;
                Kind::Run(Box::new(other))
            }
        })
    }

    /// Plan `statement` in the connection's current session.
    async fn plan(&self, ctx: &SessionContext, statement: &Statement) -> PgWireResult<LogicalPlan> {
        ctx.state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
            .map_err(|e| self.pg_error(&fieldhouse_engine::Error::Query { context: "planning SQL".into(), source: e }))
    }

    /// Run a plan under the SQL limits and encode its rows as `format` says;
    /// the rows hold `permit` (one of `sql_concurrency`) until sent.
    async fn run(
        &self,
        ctx: &SessionContext,
        plan: LogicalPlan,
        format: &Format,
        options: Arc<FormatOptions>,
        permit: Permit,
    ) -> PgWireResult<Response> {
        let started = Instant::now();
        let metrics = self.state.metrics.clone();
        let limits =
            SqlLimits { max_rows: self.state.config.sql_max_rows, timeout: Some(self.state.config.sql_timeout()) };
        let stream = match fieldhouse_engine::run_plan(ctx, plan, limits, self.state.config.sql_timeout()).await {
            Ok(s) => s,
            Err(e) => {
                metrics.query("pg", "error", started.elapsed());
                return Err(self.pg_error(&e));
            }
        };
        let fields = Arc::new(arrow_schema_to_pg_fields(&stream.schema(), format, Some(options))?);
        let redact = self.redact();
        let rows_fields = fields.clone();
        let rows = stream
            .map(move |batch| {
                let _held = &permit;
                let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> = match batch {
                    Ok(b) => encode_recordbatch(rows_fields.clone(), b),
                    Err(e) => {
                        let r: Vec<&str> = redact.iter().map(String::as_str).collect();
                        let api = engine_error(&e, &r);
                        let code = if api.code == "query_timeout" {
                            "57014"
                        } else if api.code == "query_too_large" {
                            "53200"
                        } else {
                            "XX000"
                        };
                        Box::new(std::iter::once(Err(user_error(code, api.message))))
                    }
                };
                stream::iter(rows)
            })
            .flatten()
            .map(Some)
            .chain(stream::once(async move {
                metrics.query("pg", "ok", started.elapsed());
                None
            }))
            .filter_map(|row| async move { row });
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }

    /// Answer one statement of either protocol. `permit`: the query slot of
    /// the statements of one message, taken at the first that runs: the rows
    /// of a simple query's statements are sent only after all are answered,
    /// so a slot each would wait forever for more than `sql_concurrency`.
    async fn answer<C: ClientInfo>(
        &self,
        client: &C,
        kind: Kind,
        params: Option<&Portal<PgStatement>>,
        format: &Format,
        permit: &mut Option<Permit>,
    ) -> PgWireResult<Response> {
        match kind {
            Kind::Done(tag) => Ok(Response::Execution(tag)),
            Kind::Begin => Ok(Response::TransactionStart(Tag::new("BEGIN"))),
            Kind::End(tag) => Ok(Response::TransactionEnd(Tag::new(tag))),
            Kind::Option(name, value) => {
                let conn = self.conn(client)?;
                {
                    let mut options = conn.options.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let latest = value.eq_ignore_ascii_case("latest") || value.eq_ignore_ascii_case("default");
                    match name.as_str() {
                        "fieldhouse.as_of" if latest => options.as_of = fieldhouse_engine::AsOf::Latest,
                        "fieldhouse.as_of" => {
                            options.as_of = value.parse().map_err(|e: fieldhouse_engine::Error| {
                                user_error("22023", format!("SET fieldhouse.as_of: {e}"))
                            })?;
                        }
                        "fieldhouse.now" if latest => options.now = None,
                        "fieldhouse.now" => {
                            let now = chrono::DateTime::parse_from_rfc3339(&value).map_err(|_| {
                                user_error("22023", format!("SET fieldhouse.now: `{value}` is not an RFC 3339 instant"))
                            })?;
                            options.now = Some(now.with_timezone(&chrono::Utc));
                        }
                        _ => {
                            return Err(user_error(
                                "42704",
                                format!(
                                    "unrecognized configuration parameter \"{name}\" (fieldhouse.as_of, fieldhouse.now)"
                                ),
                            ));
                        }
                    }
                }
                *conn.session.lock().await = None;
                Ok(Response::Execution(Tag::new("SET")))
            }
            Kind::Run(statement) => {
                let conn = self.conn(client)?;
                let ctx = self.session(&conn).await?;
                let mut plan = self.plan(&ctx, &statement).await?;
                if let Some(portal) = params {
                    let values = decode_parameters(portal, &plan)?;
                    plan = plan.replace_params_with_values(&values).map_err(|e| self.pg_error(&e))?;
                }
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                let slot = match permit {
                    Some(p) => p.clone(),
                    None => {
                        let p = self.state.sql_slots.clone().acquire_owned().await;
                        let p = Arc::new(p.map_err(|e| user_error("XX000", e.to_string()))?);
                        *permit = Some(p.clone());
                        p
                    }
                };
                self.run(&ctx, plan, format, options, slot).await
            }
        }
    }
}

/// A query slot (of `sql_concurrency`), shared by the statements of one message.
type Permit = Arc<tokio::sync::OwnedSemaphorePermit>;

/// A statement's kind once classified.
#[derive(Debug, Clone)]
enum Kind {
    /// Run through the engine.
    Run(Box<Statement>),
    /// Answered with this tag, nothing done (SET, DISCARD ...).
    Done(Tag),
    Begin,
    End(&'static str),
    /// `SET fieldhouse.as_of` or `fieldhouse.now`: name and value.
    Option(String, String),
}

/// A statement of the extended protocol, with its plan at Parse time (for
/// Describe); Execute plans it again in the session of that moment.
#[derive(Debug, Clone)]
pub struct PgStatement {
    kind: Kind,
    plan: Option<LogicalPlan>,
}

/// `SHOW name` as a query of the fixed settings clients ask for.
fn show_query(name: &str, timeout_secs: u64) -> PgWireResult<Statement> {
    let timeout = format!("{timeout_secs}s");
    let value = match name {
        "server_version" => SERVER_VERSION,
        "server_encoding" | "client_encoding" => "UTF8",
        "standard_conforming_strings"
        | "integer_datetimes"
        | "transaction_read_only"
        | "default_transaction_read_only" => "on",
        "timezone" | "time zone" => "UTC",
        "datestyle" => "ISO, MDY",
        "search_path" => "public",
        "transaction_isolation" | "transaction isolation level" | "default_transaction_isolation" => "read committed",
        "statement_timeout" => timeout.as_str(),
        "max_identifier_length" => "63",
        "lc_collate" | "lc_ctype" => "C.UTF-8",
        "max_index_keys" => "32",
        _ => return Err(user_error("42704", format!("unrecognized configuration parameter \"{name}\""))),
    };
    let column = name.replace(' ', "_");
    let sql = format!("SELECT '{value}' AS \"{column}\"");
    let mut statements = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        &sql,
    )
    .map_err(|e| user_error("XX000", e.to_string()))?;
    statements.pop().ok_or_else(|| user_error("XX000", "no statement".into()))
}

/// The plan's parameters (`$1`, `$2` ...) in order, with their inferred types.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types().map_err(|e| user_error("42P18", e.to_string()))?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(k, t)| k.trim_start_matches('$').parse::<usize>().ok().map(|n| (n, t)))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let last = numbered.last().map_or(0, |(n, _)| *n);
    let mut out = vec![None; last];
    for (n, t) in numbered {
        if n >= 1 {
            out[n - 1] = t;
        }
    }
    Ok(out)
}

fn wire_types(types: &[Option<DataType>]) -> PgWireResult<Vec<Type>> {
    types.iter().map(|t| t.as_ref().map_or(Ok(Type::UNKNOWN), into_pg_type)).collect()
}

fn decode_parameters(
    portal: &Portal<PgStatement>,
    plan: &LogicalPlan,
) -> PgWireResult<datafusion::common::ParamValues> {
    let types = parameter_types(plan)?;
    let wire = wire_types(&types)?;
    let inferred: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
    let server: Vec<Option<&Type>> = wire.iter().map(Some).collect();
    deserialize_parameters_with_server_types(portal, &inferred, &server)
}

#[async_trait]
impl SimpleQueryHandler for PgServer {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.conn(client)?;
        let statements = self.parser.parse(query).map_err(|e| user_error("42601", e.to_string()))?;
        let mut out = Vec::with_capacity(statements.len());
        let mut permit = None;
        for statement in statements {
            let kind = self.classify(&conn, statement)?;
            out.push(self.answer(client, kind, None, &Format::UnifiedText, &mut permit).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl QueryParser for PgServer {
    type Statement = PgStatement;

    async fn parse_sql<C>(&self, client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<PgStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let conn = self.conn(client)?;
        let mut statements = self.parser.parse(sql).map_err(|e| user_error("42601", e.to_string()))?;
        if statements.len() > 1 {
            return Err(user_error("42601", "one statement at a time in the extended protocol".into()));
        }
        let Some(statement) = statements.pop() else { return Ok(None) };
        let kind = self.classify(&conn, statement)?;
        let plan = match &kind {
            Kind::Run(s) => {
                let ctx = self.session(&conn).await?;
                Some(self.plan(&ctx, s).await?)
            }
            _ => None,
        };
        Ok(Some(PgStatement { kind, plan }))
    }

    fn get_parameter_types(&self, stmt: &PgStatement) -> PgWireResult<Vec<Type>> {
        match &stmt.plan {
            Some(plan) => wire_types(&parameter_types(plan)?),
            None => Ok(vec![]),
        }
    }

    fn get_result_schema(&self, stmt: &PgStatement, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        match &stmt.plan {
            Some(plan) => {
                arrow_schema_to_pg_fields(plan.schema().as_arrow(), format.unwrap_or(&Format::UnifiedText), None)
            }
            None => Ok(vec![]),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for PgServer {
    type Statement = PgStatement;
    type QueryParser = PgServer;

    fn query_parser(&self) -> Arc<PgServer> {
        // The handlers hold the server in an Arc while a connection runs.
        self.me.upgrade().unwrap_or_else(|| {
            Arc::new_cyclic(|me| PgServer {
                me: me.clone(),
                state: self.state.clone(),
                statics: self.statics.clone(),
                parser: self.parser.clone(),
                params: self.params.clone(),
            })
        })
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<PgStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = PgStatement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let kind = portal.statement.statement.kind.clone();
        self.answer(client, kind, Some(portal), &portal.result_column_format, &mut None).await
    }
}
