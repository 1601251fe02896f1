//! Each section of a page: the KPI requests it makes for the filters, and
//! its card (a headline number, a chart as inline SVG, a small table).
//!
//! Filters reach a KPI in the way its header allows: a parameter when it has
//! one (`region`, `agent`), else a group-by dimension whose rows are then
//! kept for the chosen value (`product`, `agent`); a filter a KPI cannot take
//! is named under the card instead of being silently dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fieldhouse_engine::{Caller, KpiDef, KpiRequest};
use fieldhouse_reports::charts::{self, Chart, ChartData, Series};
use maud::{Markup, PreEscaped, html};

use crate::DashboardState;
use crate::data::{self, Answer, Names, Row, num, short_id, text};
use crate::filters::Filters;
use crate::pages::Section;

/// What one section needs to compute.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a DashboardState,
    pub(crate) caller: &'a Caller,
    pub(crate) filters: &'a Filters,
    pub(crate) names: &'a Names,
    /// The lake version the page resolved.
    pub(crate) version: i64,
}

/// A KPI request with the filters applied, and the row filters that finish
/// the job.
struct Plan {
    request: KpiRequest,
    keep: Vec<(&'static str, String)>,
    not_applied: Vec<&'static str>,
}

fn plan(def: &KpiDef, name: &str, by: &[&str], f: &Filters, period: bool) -> Plan {
    let has_param = |p: &str| def.params.iter().any(|d| d.name == p);
    let has_dim = |d: &str| def.dimensions.iter().any(|x| x == d);
    let mut request = KpiRequest::new(name);
    for d in by {
        request = request.by(d);
    }
    if period && has_param("from") && has_param("to") {
        request = request.param("from", f.kpi_from()).param("to", f.kpi_to());
    }
    let mut keep = Vec::new();
    let mut not_applied = Vec::new();
    for (filter, dim, value) in
        [("region", "region", &f.region), ("product", "product", &f.product), ("agent", "agent", &f.agent)]
    {
        let Some(v) = value else { continue };
        if has_param(filter) {
            request = request.param(filter, v.clone());
        } else if has_dim(dim) {
            request = request.by(dim);
            keep.push((dim, v.clone()));
        } else {
            not_applied.push(filter);
        }
    }
    Plan { request, keep, not_applied }
}

/// The rows of `plan`'s answer, or an error message safe to show.
async fn rows(ctx: &Ctx<'_>, plan: &Plan) -> Result<(Vec<Row>, Answer), String> {
    let answer = data::fetch(ctx.state, &plan.request, ctx.caller, ctx.version).await.map_err(|e| {
        tracing::warn!(kpi = %plan.request.name, error = %e.chain(), "dashboard section");
        match e {
            fieldhouse_engine::Error::Parameter { .. } => e.to_string(),
            fieldhouse_engine::Error::Timeout { .. } => "the KPI took too long; try a shorter period".to_string(),
            _ => "this KPI could not be computed right now".to_string(),
        }
    })?;
    let rows = answer
        .rows
        .iter()
        .filter(|r| plan.keep.iter().all(|(col, v)| text(r, col).as_deref() == Some(v.as_str())))
        .cloned()
        .collect();
    Ok((rows, answer))
}

/// The card of `section`.
pub(crate) async fn card(section: Section, ctx: &Ctx<'_>) -> Markup {
    let Ok(def) = ctx.state.engine.catalog().get(section.kpi()) else {
        return Markup::default();
    };
    let body = match section {
        Section::SlaTrend => sla_trend(def, ctx).await,
        Section::ResponseTime => response_time(def, ctx).await,
        Section::FirstTimeFix => first_time_fix(def, ctx).await,
        Section::Backlog => backlog(def, ctx).await,
        Section::PartsPareto => parts_pareto(def, ctx).await,
        Section::Receivables => receivables(def, ctx).await,
        Section::Claims => claims(def, ctx).await,
    };
    let body = body.unwrap_or_else(|e| html! { p class="error" { (e) } });
    html! {
        section class="card" id=(section.id()) data-kpi=(def.name) {
            h2 { (section.title()) }
            (body)
        }
    }
}

type Html = Result<Markup, String>;

fn headline(section: &str, value: Option<f64>, unit: &str, decimals: usize, caption: &str) -> Markup {
    let shown = value.map(|v| format!("{}{unit}", fmt(v, decimals))).unwrap_or_else(|| "–".to_string());
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.
    let value = value.map(|v| v + 0.0);
    let data = value.map(|v| format!("{v}")).unwrap_or_default();
    html! {
        p class="headline" id={ (section) "-value" } data-value=(data) {
            (shown)
            small { " " (caption) }
        }
    }
}

fn chart(c: &Chart) -> Markup {
    // A bar chart of one category draws its bar with a negative width in
    // reports' charts (plotters' 0..0 segment): pad it with an empty slot.
    let mut padded;
    let c = match &c.data {
        ChartData::Bar { categories, values } | ChartData::Pareto { categories, values } if categories.len() == 1 => {
            padded = c.clone();
            if let ChartData::Bar { categories, values: v } | ChartData::Pareto { categories, values: v } =
                &mut padded.data
            {
                categories.push(String::new());
                *v = vec![values.first().copied().unwrap_or(0.0), 0.0];
            }
            &padded
        }
        _ => c,
    };
    match charts::to_svg(c) {
        // Trusted markup: the reports crate draws the SVG with plotters' SVG backend, which
        // escapes every text it writes (titles, axis labels, category names from the data).
        // Its opening tag gets the chart's title as an accessible label, escaped by maud.
        Ok(svg) => html! {
            div class="chart" {
                @if let Some((before, after)) = svg.split_once("<svg ") {
                    (PreEscaped(before))
                    (PreEscaped("<svg role=\"img\" aria-label=\"")) (c.title) (PreEscaped("\" "))
                    (PreEscaped(after))
                } @else {
                    (PreEscaped(&svg))
                }
            }
        },
        Err(e) => {
            tracing::warn!(chart = %c.title, error = %e, "drawing a chart");
            html! { p class="note" { "The chart could not be drawn." } }
        }
    }
}

fn notes(plans: &[&Plan], extra: &str, answer: Option<&Answer>) -> Markup {
    let mut out = String::new();
    let mut skipped: Vec<&str> = plans.iter().flat_map(|p| p.not_applied.iter().copied()).collect();
    skipped.sort_unstable();
    skipped.dedup();
    if !skipped.is_empty() {
        let _ = write!(out, "This KPI cannot be filtered by {}. ", skipped.join(", "));
    }
    out.push_str(extra);
    if let Some(a) = answer {
        let _ =
            write!(out, " Computed {} at lake version {}.", a.computed_at.format("%Y-%m-%d %H:%M UTC"), a.lake_version);
    }
    html! { p class="note" { (out.trim()) } }
}

/// Tables: header cells and rows of cells, numeric columns right-aligned.
fn table(head: &[&str], numeric: &[bool], rows: &[Vec<String>]) -> Markup {
    let class = |i: usize| numeric.get(i).copied().unwrap_or(false).then_some("num");
    html! {
        table {
            thead {
                tr {
                    @for (i, h) in head.iter().enumerate() {
                        th class=[class(i)] { (h) }
                    }
                }
            }
            tbody {
                @for r in rows {
                    tr {
                        @for (i, c) in r.iter().enumerate() {
                            td class=[class(i)] { (c) }
                        }
                    }
                }
            }
        }
    }
}

/// `v` with `decimals` decimals and thin thousands separators.
pub(crate) fn fmt(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map(|(i, f)| (i.to_string(), Some(f.to_string()))).unwrap_or((s, None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && v.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn money(cents: f64) -> String {
    fmt(cents / 100.0, 2)
}

fn day(row: &Row, key: &str) -> String {
    text(row, key).map(|s| s.chars().take(10).collect()).unwrap_or_default()
}

/// `100 × part ÷ whole` rounded to 2 decimals, as the KPI SQL computes it.
fn pct(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| (100.0 * part / whole * 100.0).round() / 100.0)
}

async fn sla_trend(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let f = ctx.filters;
    // The headline is the sum of the weeks: the same counts as the KPI without a group.
    let weekly = plan(def, "sla_response_compliance", &["week"], f, true);
    let (resp, answer) = rows(ctx, &weekly).await?;
    let met: f64 = resp.iter().filter_map(|r| num(r, "met")).sum();
    let breached: f64 = resp.iter().filter_map(|r| num(r, "breached")).sum();
    let head = headline(
        "sla-trend",
        pct(met, met + breached),
        " %",
        2,
        &format!("response SLA met ({} met, {} breached)", fmt(met, 0), fmt(breached, 0)),
    );
    let mut weeks: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for r in &resp {
        weeks.entry(day(r, "week")).or_default().0 = num(r, "compliance_pct");
    }
    let mut plans = vec![&weekly];
    let resolution_def =
        ctx.state.engine.catalog().get("sla_resolution_compliance").ok().filter(|d| d.allows(ctx.caller.role));
    let resolution = resolution_def.map(|d| plan(d, "sla_resolution_compliance", &["week"], f, true));
    if let Some(p) = &resolution {
        let (res, _) = rows(ctx, p).await?;
        for r in &res {
            weeks.entry(day(r, "week")).or_default().1 = num(r, "compliance_pct");
        }
        plans.push(p);
    }
    let categories: Vec<String> = weeks.keys().cloned().collect();
    let mut series = vec![Series { name: "response".into(), values: weeks.values().map(|v| v.0).collect() }];
    if resolution.is_some() {
        series.push(Series { name: "resolution".into(), values: weeks.values().map(|v| v.1).collect() });
    }
    let drawn = chart(&Chart {
        title: "SLA met, % by week".into(),
        x_label: "week starting".into(),
        y_label: "% met".into(),
        data: ChartData::Line { categories, series },
    });
    let note = notes(
        &plans,
        "Orders whose clock ended in the period; open orders past their deadline count as breached.",
        Some(&answer),
    );
    Ok(html! { (head) (drawn) (note) })
}

async fn response_time(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let total = plan(def, "response_time", &[], ctx.filters, true);
    let (rows_total, answer) = rows(ctx, &total).await?;
    let t = rows_total.first();
    let orders = t.and_then(|r| num(r, "orders")).unwrap_or(0.0);
    let head = headline(
        "response-time",
        t.and_then(|r| num(r, "business_median_min")),
        " min",
        0,
        &format!("median response, business time ({} orders)", fmt(orders, 0)),
    );
    let cols = [
        ("business mean", "business_mean_min"),
        ("business median", "business_median_min"),
        ("business p90", "business_p90_min"),
        ("wall mean", "wall_mean_min"),
        ("wall median", "wall_median_min"),
        ("wall p90", "wall_p90_min"),
    ];
    let (categories, values) = match t {
        Some(r) if orders > 0.0 => {
            (cols.iter().map(|c| c.0.to_string()).collect(), cols.iter().map(|c| num(r, c.1).unwrap_or(0.0)).collect())
        }
        _ => (vec![], vec![]),
    };
    let drawn = chart(&Chart {
        title: "Opened → first arrival".into(),
        x_label: String::new(),
        y_label: "minutes".into(),
        data: ChartData::Bar { categories, values },
    });
    let note = notes(&[&total], "By first arrival in the period.", Some(&answer));
    Ok(html! { (head) (drawn) (note) })
}

async fn first_time_fix(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    // The headline is the sum of the regions (every order has one region, or none).
    let by_region = plan(def, "first_time_fix_rate", &["region"], ctx.filters, true);
    let (regions, answer) = rows(ctx, &by_region).await?;
    let orders: f64 = regions.iter().filter_map(|r| num(r, "orders")).sum();
    let fixed: f64 = regions.iter().filter_map(|r| num(r, "first_time_fixed")).sum();
    let head = headline(
        "first-time-fix",
        pct(fixed, orders),
        " %",
        2,
        &format!("fixed first time ({} of {} orders)", fmt(fixed, 0), fmt(orders, 0)),
    );
    let drawn = chart(&Chart {
        title: "First-time fix, % by region".into(),
        x_label: "region".into(),
        y_label: "% fixed first time".into(),
        data: ChartData::Bar {
            categories: regions.iter().map(|r| text(r, "region").unwrap_or_else(|| "(none)".into())).collect(),
            values: regions.iter().map(|r| num(r, "ftf_pct").unwrap_or(0.0)).collect(),
        },
    });
    let note = notes(
        &[&by_region],
        "Corrective orders completed in the period; a new order within 30 days spoils the fix.",
        Some(&answer),
    );
    Ok(html! { (head) (drawn) (note) })
}

/// The worse of an open order's two SLA states.
fn worst_state(r: &Row) -> &'static str {
    let states = [text(r, "response_state"), text(r, "resolution_state")];
    let has = |s: &str| states.iter().any(|x| x.as_deref() == Some(s));
    if has("breached") {
        "breached"
    } else if has("at_risk") {
        "at risk"
    } else if has("on_track") {
        "on track"
    } else {
        "paused / no deadline"
    }
}

async fn backlog(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let mut p = plan(def, "backlog", &[], ctx.filters, false);
    // The list carries the agent of each order: filter it here.
    if let Some(a) = &ctx.filters.agent {
        p.not_applied.retain(|f| *f != "agent");
        p.keep.push(("agent_id", a.clone()));
    }
    let (list, answer) = rows(ctx, &p).await?;
    const ORDER: [&str; 4] = ["breached", "at risk", "on track", "paused / no deadline"];
    let mut counts = [0f64; 4];
    for r in &list {
        let s = worst_state(r);
        if let Some(i) = ORDER.iter().position(|o| *o == s) {
            counts[i] += 1.0;
        }
    }
    let head = headline(
        "backlog",
        Some(list.len() as f64),
        "",
        0,
        &format!("open orders, {} breached, {} at risk", fmt(counts[0], 0), fmt(counts[1], 0)),
    );
    let drawn = chart(&Chart {
        title: "Open orders by SLA state".into(),
        x_label: String::new(),
        y_label: "orders".into(),
        data: ChartData::Bar {
            categories: if list.is_empty() { vec![] } else { ORDER.iter().map(|s| s.to_string()).collect() },
            values: counts.to_vec(),
        },
    });
    let next: Vec<Vec<String>> = list
        .iter()
        .filter(|r| text(r, "next_deadline").is_some())
        .take(10)
        .map(|r| {
            vec![
                text(r, "order_id").map(|s| short_id(&s)).unwrap_or_default(),
                text(r, "priority").unwrap_or_default(),
                text(r, "region").unwrap_or_default(),
                worst_state(r).to_string(),
                num(r, "hours_to_deadline").map(|v| fmt(v, 1)).unwrap_or_default(),
                num(r, "age_hours").map(|v| fmt(v, 1)).unwrap_or_default(),
            ]
        })
        .collect();
    let next_table = (!next.is_empty()).then(|| {
        table(
            &["order", "priority", "region", "state", "hours to deadline", "age h"],
            &[false, false, false, false, true, true],
            &next,
        )
    });
    let note = notes(&[&p], "Open orders now, whatever the period.", Some(&answer));
    Ok(html! {
        (head)
        (drawn)
        @if let Some(t) = next_table {
            h3 class="note" { "Next to breach" }
            (t)
        }
        (note)
    })
}

async fn parts_pareto(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let p = plan(def, "parts_consumption", &["part"], ctx.filters, true);
    let (mut parts, answer) = rows(ctx, &p).await?;
    parts.sort_by(|a, b| {
        num(b, "cost_cents")
            .unwrap_or(0.0)
            .total_cmp(&num(a, "cost_cents").unwrap_or(0.0))
            .then_with(|| text(a, "part").cmp(&text(b, "part")))
    });
    let total: f64 = parts.iter().filter_map(|r| num(r, "cost_cents")).sum();
    let head = headline(
        "parts-pareto",
        Some(total / 100.0),
        "",
        2,
        &format!("cost of parts consumed ({} part numbers)", parts.len()),
    );
    let label = |r: &Row| text(r, "part").map(|id| ctx.names.part(&id)).unwrap_or_else(|| "(unknown)".into());
    let top: Vec<&Row> = parts.iter().take(15).collect();
    let drawn = chart(&Chart {
        title: "Parts by cost, with cumulative share".into(),
        x_label: "part".into(),
        y_label: "cost".into(),
        data: ChartData::Pareto {
            categories: top.iter().map(|r| label(r)).collect(),
            values: top.iter().map(|r| num(r, "cost_cents").unwrap_or(0.0) / 100.0).collect(),
        },
    });
    let mut cum = 0.0;
    let table_rows: Vec<Vec<String>> = parts
        .iter()
        .take(10)
        .map(|r| {
            let cost = num(r, "cost_cents").unwrap_or(0.0);
            cum += cost;
            vec![
                label(r),
                num(r, "quantity").map(|v| fmt(v, 0)).unwrap_or_default(),
                money(cost),
                if total > 0.0 { fmt(cum / total * 100.0, 1) } else { String::new() },
            ]
        })
        .collect();
    let top_table = (!table_rows.is_empty())
        .then(|| table(&["part", "quantity", "cost", "cum. %"], &[false, true, true, true], &table_rows));
    let note = notes(&[&p], "Consumed in the period; cost as recorded at consumption.", Some(&answer));
    Ok(html! { (head) (drawn) @if let Some(t) = top_table { (t) } (note) })
}

async fn receivables(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let mut p = plan(def, "receivables_aging", &[], ctx.filters, false);
    p.request = p.request.param("as_of", ctx.filters.until.format("%Y-%m-%d").to_string());
    let (rows_, answer) = rows(ctx, &p).await?;
    const BUCKETS: [&str; 5] = ["current", "0-30", "31-60", "61-90", "90+"];
    let mut open = [0f64; 5];
    let mut invoices = [0f64; 5];
    for r in &rows_ {
        if let Some(i) = text(r, "bucket").and_then(|b| BUCKETS.iter().position(|x| *x == b)) {
            open[i] += num(r, "open_cents").unwrap_or(0.0);
            invoices[i] += num(r, "invoices").unwrap_or(0.0);
        }
    }
    let total: f64 = open.iter().sum();
    let overdue: f64 = open[2..].iter().sum();
    let head = headline(
        "receivables",
        Some(total / 100.0),
        "",
        2,
        &format!("open on {} ({} more than 30 days past due)", ctx.filters.until, money(overdue)),
    );
    let drawn = chart(&Chart {
        title: "Open receivables by days past due".into(),
        x_label: "days past due".into(),
        y_label: "open amount".into(),
        data: ChartData::Bar {
            categories: if rows_.is_empty() { vec![] } else { BUCKETS.iter().map(|b| b.to_string()).collect() },
            values: open.iter().map(|c| c / 100.0).collect(),
        },
    });
    let table_rows: Vec<Vec<String>> =
        BUCKETS.iter().enumerate().map(|(i, b)| vec![b.to_string(), fmt(invoices[i], 0), money(open[i])]).collect();
    let buckets = table(&["bucket", "invoices", "open"], &[false, true, true], &table_rows);
    let note = notes(&[&p], "Aged at the last day of the period.", Some(&answer));
    Ok(html! { (head) (drawn) (buckets) (note) })
}

async fn claims(def: &KpiDef, ctx: &Ctx<'_>) -> Html {
    let p = plan(def, "claim_settlement", &[], ctx.filters, true);
    let (rows_, answer) = rows(ctx, &p).await?;
    // Per agent, summed over manufacturers.
    const COLS: [&str; 7] =
        ["filed", "approved", "rejected", "pending", "claimed_cents", "approved_cents", "payable_cents"];
    let mut agents: BTreeMap<String, ([f64; 7], Vec<String>)> = BTreeMap::new();
    for r in &rows_ {
        let a = text(r, "agent_id").unwrap_or_default();
        let e = agents.entry(a).or_default();
        for (i, c) in COLS.iter().enumerate() {
            e.0[i] += num(r, c).unwrap_or(0.0);
        }
        if let Some(reasons) = text(r, "rejected_reasons") {
            e.1.push(reasons);
        }
    }
    let filed: f64 = agents.values().map(|v| v.0[0]).sum();
    let payable: f64 = agents.values().map(|v| v.0[6]).sum();
    let head = headline("claims", Some(filed), "", 0, &format!("claims filed, {} payable", money(payable)));
    let drawn = chart(&Chart {
        title: "Claims filed by agent".into(),
        x_label: "agent".into(),
        y_label: "claims".into(),
        data: ChartData::Bar {
            categories: agents.keys().map(|a| ctx.names.agent(a)).collect(),
            values: agents.values().map(|v| v.0[0]).collect(),
        },
    });
    let table_rows: Vec<Vec<String>> = agents
        .iter()
        .map(|(a, (v, reasons))| {
            vec![
                ctx.names.agent(a),
                fmt(v[0], 0),
                fmt(v[1], 0),
                fmt(v[2], 0),
                fmt(v[3], 0),
                money(v[4]),
                money(v[5]),
                money(v[6]),
                reasons.join("; "),
            ]
        })
        .collect();
    let per_agent = (!table_rows.is_empty()).then(|| {
        table(
            &["agent", "filed", "approved", "rejected", "pending", "claimed", "approved", "payable", "rejected for"],
            &[false, true, true, true, true, true, true, true, false],
            &table_rows,
        )
    });
    let note = notes(&[&p], "Claims filed in the period.", Some(&answer));
    Ok(html! { (head) (drawn) @if let Some(t) = per_agent { (t) } (note) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_with_separators() {
        assert_eq!(fmt(1234567.891, 2), "1,234,567.89");
        assert_eq!(fmt(66.666, 2), "66.67");
        assert_eq!(fmt(-1500.0, 0), "-1,500");
        assert_eq!(fmt(-0.001, 2), "0.00");
        assert_eq!(fmt(0.0, 0), "0");
    }

    #[test]
    fn headline_and_table_escape_their_values() {
        let h = headline("x", Some(1.5), " %", 1, "<script>alert(1)</script>").into_string();
        assert_eq!(
            h,
            "<p class=\"headline\" id=\"x-value\" data-value=\"1.5\">1.5 %\
             <small> &lt;script&gt;alert(1)&lt;/script&gt;</small></p>"
        );
        let t = table(&["a<b", "n"], &[false, true], &[vec!["\"><script>".into(), "1".into()]]).into_string();
        assert_eq!(
            t,
            "<table><thead><tr><th>a&lt;b</th><th class=\"num\">n</th></tr></thead>\
             <tbody><tr><td>&quot;&gt;&lt;script&gt;</td><td class=\"num\">1</td></tr></tbody></table>"
        );
    }
}
