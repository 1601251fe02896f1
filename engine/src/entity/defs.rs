//! Entity definitions: the `-- entity:` lines of the view files, the rules
//! an entity view's SQL must keep, and the digest of its SQL.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, visit_expressions};
use fieldhouse_domain::event::EVENT_TYPES;

use crate::session::EVENTS_TABLE;
use crate::sqlfiles::SqlFile;
use crate::{Error, Result};

/// One entity view: its name, key, what it follows, the event types its SQL reads.
#[derive(Debug, Clone)]
pub(crate) struct EntityDef {
    pub(crate) name: String,
    pub(crate) key: String,
    /// (entity view, column of this view that joins it)
    pub(crate) follows: Vec<(String, String)>,
    /// The event types named in the SQL; `None`: the SQL names none (every type counts).
    pub(crate) types: Option<BTreeSet<String>>,
    /// The entity views of earlier files that the SQL reads.
    pub(crate) reads: BTreeSet<String>,
    /// Whether the SQL reads `events` (else only the entity views it follows change its rows).
    pub(crate) reads_events: bool,
    /// A digest of the SQL: a table built by other SQL is rebuilt, and not read.
    pub(crate) digest: String,
    pub(crate) sql: String,
}

/// The entity views among `views` (in their order), from their `-- entity:` lines.
pub(crate) fn entity_defs(views: &[SqlFile]) -> Result<Vec<EntityDef>> {
    let bad = |v: &SqlFile, message: String| Error::SqlFile { file: v.file.clone(), message };
    let mut defs: Vec<EntityDef> = Vec::new();
    for v in views {
        let Some(line) = v.body.lines().find_map(|l| l.trim().strip_prefix("-- entity:")) else { continue };
        let mut key = None;
        let mut follows = Vec::new();
        for part in line.split_whitespace() {
            if let Some(k) = part.strip_prefix("key=") {
                key = Some(k.to_string());
            } else if let Some(list) = part.strip_prefix("follows=") {
                for item in list.split(',').filter(|s| !s.is_empty()) {
                    let (view, column) = item
                        .split_once('.')
                        .ok_or_else(|| bad(v, format!("`follows={item}`: expected VIEW.COLUMN")))?;
                    if !defs.iter().any(|d| d.name == view) {
                        return Err(bad(
                            v,
                            format!("follows `{view}`, which is not an entity view of an earlier file"),
                        ));
                    }
                    follows.push((view.to_string(), column.to_string()));
                }
            } else {
                return Err(bad(
                    v,
                    format!("unknown `-- entity:` item `{part}` (key=COLUMN, follows=VIEW.COLUMN,...)"),
                ));
            }
        }
        let key = key.ok_or_else(|| bad(v, "`-- entity:` line without key=COLUMN".into()))?;
        let relations = check_entity_sql(v, views, &defs, &follows).map_err(|message| bad(v, message))?;
        let types = event_types_named(&v.body);
        let reads =
            defs.iter().filter(|d| relations.contains(&d.name.to_ascii_lowercase())).map(|d| d.name.clone()).collect();
        let digest = format!("{:016x}", fnv1a(sql_digest_text(line, &v.body).as_bytes()));
        defs.push(EntityDef {
            reads,
            reads_events: relations.contains(EVENTS_TABLE),
            digest,
            name: v.name.clone(),
            key,
            follows,
            types: (!types.is_empty()).then_some(types),
            sql: v.body.clone(),
        });
    }
    Ok(defs)
}

/// The clock function: a view that calls it is not a function of the events.
const CLOCK_FUNCTION: &str = "fh_now";

/// The rules of an entity view's SQL (`v`, whose `-- entity:` line gave
/// `follows`; `defs`: the entity views of the files before it), on the SQL as
/// DataFusion parses it: it does not call `fh_now()`, and every other view of
/// `views` it reads is an entity view it follows. `events` may be read; a CTE
/// is not a view; a name that is no view is left to the planner. `Ok`: the
/// relations the SQL reads (CTEs left out), in lower case; `Err`: the
/// message, naming the view and what to fix.
fn check_entity_sql(
    v: &SqlFile,
    views: &[SqlFile],
    defs: &[EntityDef],
    follows: &[(String, String)],
) -> std::result::Result<BTreeSet<String>, String> {
    let name = &v.name;
    let statements = DFParser::parse_sql(&v.body)
        .map_err(|e| format!("cannot parse the SQL of entity view `{name}` to check what it reads: {e}"))?;
    if statements.iter().any(calls_clock) {
        return Err(format!(
            "entity view `{name}` calls {CLOCK_FUNCTION}(): its rows would move with the clock, but an entity \
             table is recomputed only when events arrive; remove its `-- entity:` line (computed at read time), \
             or move what needs {CLOCK_FUNCTION}() into a view without one (as `orders` over `orders_core`)"
        ));
    }
    let mut relations = BTreeSet::new();
    for statement in &statements {
        let (tables, _ctes) = resolve_table_references(statement, true)
            .map_err(|e| format!("cannot resolve the tables entity view `{name}` reads: {e}"))?;
        for table in &tables {
            let table = table.table();
            relations.insert(table.to_ascii_lowercase());
            if table.eq_ignore_ascii_case(EVENTS_TABLE) {
                continue;
            }
            let Some(read) = views.iter().find(|w| w.name.eq_ignore_ascii_case(table)) else { continue };
            let read = &read.name;
            if follows.iter().any(|(f, _)| f.eq_ignore_ascii_case(read)) {
                continue;
            }
            return Err(if defs.iter().any(|d| d.name.eq_ignore_ascii_case(read)) {
                format!(
                    "entity view `{name}` reads entity view `{read}` but does not follow it, so a change of \
                     `{read}`'s rows would not recompute `{name}`'s: add `{read}.COLUMN` to the `follows=` of its \
                     `-- entity:` line (COLUMN: the column of `{name}` that joins `{read}`)"
                )
            } else {
                format!(
                    "entity view `{name}` reads view `{read}`, which is not an entity view of an earlier file, so \
                     nothing would recompute `{name}` when `{read}`'s rows change: read `events` or entity views \
                     of earlier files only (and follow them), or remove the `-- entity:` line of `{name}`"
                )
            });
        }
    }
    Ok(relations)
}

/// Whether `statement` calls `fh_now()`, in any case (a name in a comment or a
/// string is no call).
fn calls_clock(statement: &DFStatement) -> bool {
    let DFStatement::Statement(statement) = statement else { return false };
    visit_expressions(&**statement, |e| match e {
        SqlExpr::Function(f)
            if f.name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case(CLOCK_FUNCTION)) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// FNV-1a, 64 bits: a digest of a view's SQL that stays the same across builds and Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What an entity view's digest is taken of: its `-- entity:` line and its
/// SQL without comments, whitespace runs as one space. Editing a comment or
/// re-indenting the SQL keeps the tables; any change to the code rebuilds them.
fn sql_digest_text(entity_line: &str, sql: &str) -> String {
    let code = code_of(sql);
    let mut text = entity_line.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in code.split_whitespace() {
        text.push(' ');
        text.push_str(word);
    }
    text
}

/// `sql` without its `--` comments.
fn code_of(sql: &str) -> String {
    sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The event types quoted in `sql` (comments left out).
fn event_types_named(sql: &str) -> BTreeSet<String> {
    let code = code_of(sql);
    code.split('\'')
        .skip(1)
        .step_by(2)
        .filter(|s| EVENT_TYPES.iter().any(|(n, _)| n == s))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entity_lines_and_event_types_are_read_from_the_views() {
        let defs = entity_defs(&crate::sqlfiles::embedded_views()).unwrap();
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert!(names.contains(&"orders_core"), "{names:?}");
        assert!(!names.contains(&"orders"), "orders is computed at read time");
        let heads = defs.iter().find(|d| d.name == "order_heads").unwrap();
        assert_eq!(heads.key, "order_id");
        assert!(heads.follows.contains(&("sites".into(), "site_id".into())));
        let reads: Vec<&str> = heads.reads.iter().map(String::as_str).collect();
        assert_eq!(reads, vec!["order_openings", "products", "sites"]);
        assert!(!heads.reads_events, "order_heads reads entity views only");
        let core = defs.iter().find(|d| d.name == "orders_core").unwrap();
        for r in ["order_heads", "order_entitlements", "calendars", "pauses"] {
            assert!(core.reads.contains(r), "orders_core reads {r}: {:?}", core.reads);
        }
        assert!(core.reads_events);
        let customers = defs.iter().find(|d| d.name == "customers").unwrap();
        assert_eq!(customers.types.as_ref().unwrap().iter().collect::<Vec<_>>(), vec!["customer_registered"]);
        let types = core.types.as_ref().unwrap();
        assert!(types.contains("priority_changed") && types.contains("order_reopened"));
        assert!(!types.contains("waiting_for_customer"), "a pause reason is not an event type");
    }

    #[test]
    fn a_follow_of_an_unknown_view_is_refused() {
        let v = SqlFile {
            name: "x".into(),
            file: "x.sql".into(),
            body: "-- entity: key=order_id follows=nothing.order_id\nSELECT 1".into(),
        };
        assert!(entity_defs(&[v]).is_err());
    }

    /// A view file `name` (file `name.sql`) with `body`.
    fn view(name: &str, body: &str) -> SqlFile {
        SqlFile { name: name.into(), file: format!("{name}.sql"), body: body.into() }
    }

    /// The message of the refusal of `views` (which must be refused as a bad SQL file).
    fn refusal(views: &[SqlFile]) -> String {
        match entity_defs(views) {
            Err(Error::SqlFile { message, .. }) => message,
            other => panic!("expected a bad SQL file, got {other:?}"),
        }
    }

    #[test]
    fn an_entity_view_that_calls_fh_now_is_refused() {
        let clocked =
            view("late_orders", "-- entity: key=order_id\nSELECT order_id, occurred_at < FH_Now() AS late FROM events");
        let message = refusal(&[clocked]);
        assert!(message.contains("`late_orders`") && message.contains("fh_now()"), "{message}");
        // Named in a comment or a string it is no call; a view without `-- entity:` may call it.
        let commented =
            view("a", "-- entity: key=order_id\n-- not at fh_now()\nSELECT order_id, 'fh_now()' AS s FROM events");
        let plain = view("b", "SELECT a.*, fh_now() AS now FROM a");
        entity_defs(&[commented, plain]).unwrap();
    }

    #[test]
    fn an_entity_view_follows_every_view_it_reads() {
        let sites = view("sites", "-- entity: key=site_id\nSELECT site_id, region FROM events");
        let site_list = view("site_list", "SELECT * FROM sites");
        // An entity view it does not follow (named in another case).
        let unfollowed = view(
            "heads",
            "-- entity: key=order_id\nSELECT e.order_id, s.region FROM events e JOIN Sites s ON e.site_id = s.site_id",
        );
        let message = refusal(&[sites.clone(), site_list.clone(), unfollowed]);
        assert!(message.contains("`heads`") && message.contains("`sites.COLUMN`"), "{message}");
        // A view that is no entity view (in a subquery).
        let reads_plain = view(
            "heads",
            "-- entity: key=order_id follows=sites.site_id\n\
             SELECT order_id FROM events WHERE site_id IN (SELECT site_id FROM site_list)",
        );
        let message = refusal(&[sites.clone(), site_list.clone(), reads_plain]);
        assert!(message.contains("`heads`") && message.contains("`site_list`"), "{message}");
        // Followed; a CTE named like a view; `events` in capitals; a name that is no view: accepted.
        let ok = view(
            "heads",
            "-- entity: key=order_id follows=sites.site_id\n\
             WITH site_list AS (SELECT order_id, site_id FROM EVENTS)\n\
             SELECT o.order_id, s.region FROM site_list o JOIN sites s ON o.site_id = s.site_id \
             LEFT JOIN elsewhere x ON o.order_id = x.order_id",
        );
        let defs = entity_defs(&[sites, site_list, ok]).unwrap();
        assert_eq!(defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), vec!["sites", "heads"]);
    }

    #[test]
    fn the_built_in_entity_views_keep_the_rules() {
        let on_disk =
            crate::sqlfiles::read_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/views")).unwrap();
        for views in [crate::sqlfiles::embedded_views(), on_disk] {
            let defs = entity_defs(&views).unwrap();
            // orders_core names fh_now() in its comments only; orders calls it, and is no entity view.
            assert!(defs.iter().any(|d| d.name == "orders_core"));
            assert!(views.iter().any(|v| v.name == "orders" && v.body.contains("fh_now()")));
        }
        // The rules run on the real SQL: orders_core without its follow of pauses is refused.
        let mut views = crate::sqlfiles::embedded_views();
        let core = views.iter_mut().find(|v| v.name == "orders_core").unwrap();
        assert!(core.body.contains(",pauses.order_id"));
        core.body = core.body.replace(",pauses.order_id", "");
        let message = refusal(&views);
        assert!(message.contains("`orders_core`") && message.contains("`pauses.COLUMN`"), "{message}");
    }

    #[test]
    fn a_comment_edit_keeps_the_digest_and_a_code_edit_changes_it() {
        let digest = |body: &str| {
            let sites = view("sites", "-- entity: key=site_id\nSELECT site_id FROM events");
            let heads = view("heads", body);
            entity_defs(&[sites, heads]).unwrap().pop().unwrap().digest
        };
        let base = digest("-- entity: key=order_id\n-- One row per order.\nSELECT order_id FROM events");
        // Comments (above, at a line's end) and whitespace: the same tables.
        let edited = digest(
            "-- Orders, one row each (reworded).\n-- entity: key=order_id\nSELECT order_id   -- the key\n  FROM events",
        );
        assert_eq!(base, edited);
        // The code, or the entity line: other tables.
        assert_ne!(
            base,
            digest("-- entity: key=order_id\n-- One row per order.\nSELECT DISTINCT order_id FROM events")
        );
        assert_ne!(
            base,
            digest("-- entity: key=order_id follows=sites.site_id\n-- One row per order.\nSELECT order_id FROM events")
        );
    }
}
