//! Turning KPI results into report files: CSV per table, charts (SVG inline
//! in the HTML, PNG per chart), the self-contained HTML page and the
//! manifest. Pure functions: bytes in memory, no I/O, no clock, so the same
//! results always give the same bytes. The HTML is a maud template: every
//! value is spliced with `(..)` and so escaped; only our own CSS and the
//! plotters SVG go in as `PreEscaped`.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::charts::{Chart, ChartData, Series};
use crate::config::{ChartDef, ChartType, ReportDef, SectionDef};
use crate::source::KpiParams;
use crate::{Error, Result};

/// Rows shown per table in HTML and PDF; the CSV always has all of them.
pub const MAX_TABLE_ROWS: usize = 500;

/// One section's KPI result.
#[derive(Debug, Clone)]
pub struct SectionResult {
    pub def: SectionDef,
    pub params: KpiParams,
    /// All rows in one batch; `None` when the KPI returned no batch at all.
    pub rows: Option<RecordBatch>,
}

impl SectionResult {
    fn num_rows(&self) -> usize {
        self.rows.as_ref().map_or(0, RecordBatch::num_rows)
    }
}

/// What a report run is about, written into every report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub report: String,
    pub title: String,
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub time_zone: String,
    pub agent: Option<Uuid>,
    pub lake_version: i64,
    pub audience: Vec<String>,
    /// File names in the folder (the manifest itself excluded), sorted.
    pub files: Vec<String>,
}

/// The file name of the manifest in each report folder.
pub const MANIFEST: &str = "manifest.json";

/// A batch as CSV with a header row; no batch gives an empty file.
pub fn to_csv(batch: Option<&RecordBatch>) -> Result<Vec<u8>> {
    let Some(batch) = batch else { return Ok(Vec::new()) };
    let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(Vec::new());
    w.write(batch)?;
    Ok(w.into_inner())
}

/// Column sums of a section's `totals` columns, in order: (column, sum, is_integer).
pub fn totals(s: &SectionResult) -> Result<Vec<(String, f64, bool)>> {
    let mut out = Vec::new();
    for col in &s.def.totals {
        let Some(batch) = &s.rows else {
            out.push((col.clone(), 0.0, true));
            continue;
        };
        let array = column(batch, &s.def.kpi, col)?;
        let integer = array.data_type().is_integer();
        let values = as_f64(array)?;
        out.push((col.clone(), values.iter().flatten().sum(), integer));
    }
    Ok(out)
}

pub(crate) fn totals_csv(totals: &[(String, f64, bool)]) -> Result<Vec<u8>> {
    let mut out = String::new();
    out.push_str(&totals.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(","));
    out.push('\n');
    out.push_str(&totals.iter().map(|t| number_text(t.1, t.2)).collect::<Vec<_>>().join(","));
    out.push('\n');
    Ok(out.into_bytes())
}

fn number_text(v: f64, integer: bool) -> String {
    if integer { format!("{v:.0}") } else { format!("{v}") }
}

fn column<'a>(batch: &'a RecordBatch, kpi: &str, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::MissingColumn {
        kpi: kpi.to_owned(),
        column: name.to_owned(),
        available: batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
    })
}

fn as_f64(array: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let cast = arrow::compute::cast(array, &DataType::Float64)?;
    let f = cast.as_primitive::<Float64Type>();
    Ok((0..f.len()).map(|i| f.is_valid(i).then(|| f.value(i))).collect())
}

fn as_text(array: &ArrayRef) -> Result<Vec<String>> {
    let fmt = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
    Ok((0..array.len()).map(|i| fmt.value(i).to_string()).collect())
}

/// Build the chart a section asks for from its rows.
pub fn build_chart(s: &SectionResult, c: &ChartDef) -> Result<Chart> {
    let x_name = c.x.clone().unwrap_or_default();
    let x_label = c.x_label.clone().unwrap_or_else(|| x_name.replace('_', " "));
    let y_name = c.y.clone().unwrap_or_default();
    let y_label = c.y_label.clone().unwrap_or_else(|| y_name.replace('_', " "));
    let mut chart = Chart {
        title: s.def.title.clone(),
        x_label,
        y_label,
        data: ChartData::Bar { categories: vec![], values: vec![] },
    };
    let Some(batch) = s.rows.as_ref().filter(|b| b.num_rows() > 0) else {
        chart.data = match c.kind {
            ChartType::Line => ChartData::Line { categories: vec![], series: vec![] },
            ChartType::Bar => ChartData::Bar { categories: vec![], values: vec![] },
            ChartType::Histogram => ChartData::Histogram { values: vec![], bins: c.bins.unwrap_or(20) },
            ChartType::Pareto => ChartData::Pareto { categories: vec![], values: vec![] },
        };
        return Ok(chart);
    };
    let kpi = &s.def.kpi;
    if !c.columns.is_empty() {
        // One bar per column, summed over the rows (e.g. CSAT score_1..score_5).
        let mut values = Vec::new();
        for name in &c.columns {
            values.push(as_f64(column(batch, kpi, name)?)?.into_iter().flatten().sum());
        }
        chart.data = ChartData::Bar { categories: c.columns.iter().map(|n| n.replace('_', " ")).collect(), values };
        return Ok(chart);
    }
    let y = as_f64(column(batch, kpi, &y_name)?)?;
    if c.kind == ChartType::Histogram {
        chart.data = ChartData::Histogram { values: y.into_iter().flatten().collect(), bins: c.bins.unwrap_or(20) };
        return Ok(chart);
    }
    let x = category_text(column(batch, kpi, &x_name)?)?;
    chart.data = match c.kind {
        ChartType::Bar => ChartData::Bar { categories: x, values: y.into_iter().map(|v| v.unwrap_or(0.0)).collect() },
        ChartType::Pareto => {
            // Sum per category (a KPI may return one row per category and more).
            let mut sums: BTreeMap<String, f64> = BTreeMap::new();
            for (k, v) in x.into_iter().zip(y) {
                *sums.entry(k).or_default() += v.unwrap_or(0.0);
            }
            ChartData::Pareto { categories: sums.keys().cloned().collect(), values: sums.into_values().collect() }
        }
        _ => {
            let series_of: Vec<String> = match &c.series {
                Some(name) => as_text(column(batch, kpi, name)?)?,
                None => vec![y_name.replace('_', " "); x.len()],
            };
            let mut categories: Vec<String> = x.clone();
            sort_categories(&mut categories);
            categories.dedup();
            let index: BTreeMap<&str, usize> = categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
            let mut series: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
            for ((xv, yv), sv) in x.iter().zip(y).zip(series_of) {
                let line = series.entry(sv).or_insert_with(|| vec![None; categories.len()]);
                if let Some(i) = index.get(xv.as_str()) {
                    line[*i] = yv;
                }
            }
            ChartData::Line {
                series: series.into_iter().map(|(name, values)| Series { name, values }).collect(),
                categories,
            }
        }
    };
    Ok(chart)
}

/// Category labels: timestamps (e.g. `date_trunc('week', ..)`) as their date.
fn category_text(array: &ArrayRef) -> Result<Vec<String>> {
    if matches!(array.data_type(), DataType::Timestamp(..)) {
        let dates = arrow::compute::cast(array, &DataType::Date32)?;
        return as_text(&dates);
    }
    as_text(array)
}

/// Numbers sort numerically, anything else as text (ISO weeks, months and
/// dates sort right as text).
fn sort_categories(c: &mut [String]) {
    if c.iter().all(|s| s.parse::<f64>().is_ok()) {
        c.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    } else {
        c.sort();
    }
}

/// `1234567` cents → `12,345.67`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let units = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// Table cells for display: `*_cents` columns as amounts.
pub(crate) fn display_rows(batch: &RecordBatch, limit: usize) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let schema = batch.schema();
    let mut columns = Vec::new();
    let mut headers = Vec::new();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name();
        let cells = if name.ends_with("_cents") && array.data_type().is_integer() {
            headers.push(name.trim_end_matches("_cents").replace('_', " "));
            let cast = arrow::compute::cast(array, &DataType::Int64)?;
            let a = cast.as_primitive::<arrow::datatypes::Int64Type>();
            (0..a.len()).map(|i| if a.is_valid(i) { format_cents(a.value(i)) } else { String::new() }).collect()
        } else {
            headers.push(name.replace('_', " "));
            as_text(array)?
        };
        columns.push(cells);
    }
    let n = batch.num_rows().min(limit);
    let rows = (0..n).map(|i| columns.iter().map(|c: &Vec<String>| c[i].clone()).collect()).collect();
    Ok((headers, rows))
}

pub(crate) fn total_cell(column: &str, value: f64, integer: bool) -> String {
    if column.ends_with("_cents") && integer { format_cents(value as i64) } else { number_text(value, integer) }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:2em auto;max-width:60em;color:#222}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
.meta{color:#555;font-size:.9em}.meta td{padding-right:1.5em}.note{color:#555;font-size:.9em}\
table.data{border-collapse:collapse;font-size:.85em;margin-top:.8em}\
table.data th,table.data td{border:1px solid #ddd;padding:.25em .6em;text-align:left}\
table.data td.n{text-align:right}table.data tfoot td{font-weight:bold;background:#f4f4f4}\
.chart svg{max-width:100%;height:auto}footer{margin-top:3em;color:#777;font-size:.8em}";

/// What a section shows as its table in the HTML, worked out before the
/// markup is written (building it can fail; writing the markup cannot).
enum SectionTable {
    /// The section has `table = false`.
    Hidden,
    /// The KPI returned no rows for the period.
    Empty,
    Rows(DataTable),
}

/// A section's table cells, as text; the markup escapes them.
struct DataTable {
    headers: Vec<String>,
    /// At most [`MAX_TABLE_ROWS`] rows.
    rows: Vec<Vec<String>>,
    /// Per column: numeric, so the cells are right-aligned (`class="n"`).
    numeric: Vec<bool>,
    /// The `<tfoot>` cells when the section has totals.
    footer: Option<Vec<String>>,
}

fn section_table(s: &SectionResult) -> Result<SectionTable> {
    if !s.def.table {
        return Ok(SectionTable::Hidden);
    }
    let Some(batch) = s.rows.as_ref().filter(|b| b.num_rows() > 0) else { return Ok(SectionTable::Empty) };
    let (headers, rows) = display_rows(batch, MAX_TABLE_ROWS)?;
    let numeric: Vec<bool> = batch.columns().iter().map(|c| c.data_type().is_numeric()).collect();
    let footer = if s.def.totals.is_empty() {
        None
    } else {
        let sums: BTreeMap<String, (f64, bool)> = totals(s)?.into_iter().map(|(c, v, i)| (c, (v, i))).collect();
        let cells: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(k, field)| match sums.get(field.name()) {
                Some((v, i)) => total_cell(field.name(), *v, *i),
                None if k == 0 => "Total".to_owned(),
                None => String::new(),
            })
            .collect();
        Some(cells)
    };
    Ok(SectionTable::Rows(DataTable { headers, rows, numeric, footer }))
}

/// The self-contained HTML page. Every value is spliced with maud's `(..)`,
/// which escapes it; the only raw markup is our own CSS and the charts' SVG.
pub(crate) fn to_html(
    def: &ReportDef,
    m: &Manifest,
    sections: &[SectionResult],
    svgs: &[Option<String>],
) -> Result<String> {
    let heading = match m.agent {
        Some(a) => format!("{} — agent {a}", def.title),
        None => def.title.clone(),
    };
    let views = sections.iter().map(section_table).collect::<Result<Vec<_>>>()?;
    let page = html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (heading) " " (m.period) }
                // STYLE is a constant of ours (trusted CSS); escaping would only mangle it.
                style { (PreEscaped(STYLE)) }
            }
            body {
                "\n"
                h1 { (heading) } "\n"
                @if !def.description.is_empty() {
                    p { (def.description) } "\n"
                }
                table.meta {
                    tr {
                        td { "Period" }
                        td {
                            b { (m.period) }
                            " (" (m.period_start) " to " (m.period_end) ", end exclusive, " (m.time_zone) ")"
                        }
                    }
                    tr {
                        td { "Lake version" }
                        td { b { (m.lake_version) } }
                    }
                    @if let Some(agent) = m.agent {
                        tr {
                            td { "Service agent" }
                            td { (agent) }
                        }
                    }
                }
                "\n"
                @for ((s, svg), view) in sections.iter().zip(svgs).zip(&views) {
                    (section_html(s, svg.as_deref(), view))
                }
                footer {
                    "Fieldhouse report " code { (m.report) } ", period " (m.period)
                    ", computed as of lake version " (m.lake_version)
                    ". Rerunning it for the same period and lake version gives the same numbers."
                }
            }
        }
        "\n"
    };
    Ok(page.into_string())
}

/// One section of the HTML page: heading, notes, chart and table.
fn section_html(s: &SectionResult, svg: Option<&str>, view: &SectionTable) -> Markup {
    html! {
        section id=(s.def.id()) {
            h2 { (s.def.title) } "\n"
            @if !s.def.note.is_empty() {
                p.note { (s.def.note) } "\n"
            }
            p.note {
                "KPI " code { (s.def.kpi) } ", " (s.params.from.to_rfc3339()) " to " (s.params.to.to_rfc3339())
                @if !s.def.by.is_empty() {
                    ", by " (s.def.by.join(", "))
                }
                @for (k, v) in &s.def.filters {
                    ", " (k) "=" (v)
                }
            }
            "\n"
            @if let Some(svg) = svg {
                // Trusted markup: SVG drawn by plotters (charts::to_svg) from our
                // numbers; plotters escapes the labels' text itself.
                div.chart { (PreEscaped(svg)) } "\n"
            }
            @match view {
                SectionTable::Hidden => {}
                SectionTable::Empty => {
                    p.note { "No rows for this period." } "\n"
                }
                SectionTable::Rows(t) => {
                    table.data {
                        thead {
                            tr {
                                @for head in &t.headers {
                                    th { (head) }
                                }
                            }
                        }
                        tbody {
                            "\n"
                            @for row in &t.rows {
                                tr {
                                    @for (cell, numeric) in row.iter().zip(t.numeric.iter().copied()) {
                                        td class=[numeric.then_some("n")] { (cell) }
                                    }
                                }
                                "\n"
                            }
                        }
                        @if let Some(cells) = &t.footer {
                            tfoot {
                                tr {
                                    @for cell in cells {
                                        td.n { (cell) }
                                    }
                                }
                            }
                        }
                    }
                    "\n"
                    @if s.num_rows() > MAX_TABLE_ROWS {
                        p.note {
                            "First " (MAX_TABLE_ROWS) " of " (s.num_rows()) " rows; all rows are in " (s.def.id()) ".csv."
                        }
                        "\n"
                    }
                }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_format_with_grouping() {
        assert_eq!(format_cents(123_456_789), "1,234,567.89");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(100_000), "1,000.00");
    }

    /// Every value from the definition, the manifest and the rows is escaped
    /// by maud; the page keeps its structure.
    #[test]
    fn html_escapes_every_value() -> Result<()> {
        use std::sync::Arc;

        use arrow::array::{Int64Array, StringArray};

        let hostile = "<i>\"x\" & 'y'</i>";
        let escaped = "&lt;i&gt;&quot;x&quot; &amp; 'y'&lt;/i&gt;";
        let mut def = crate::Config::defaults()?.reports.remove(0);
        def.title = hostile.to_owned();
        def.description = hostile.to_owned();
        let section = SectionDef {
            kpi: hostile.to_owned(),
            id: Some(hostile.to_owned()),
            title: hostile.to_owned(),
            note: hostile.to_owned(),
            by: vec![hostile.to_owned()],
            filters: BTreeMap::from([(hostile.to_owned(), hostile.to_owned())]),
            periods: 1,
            table: true,
            totals: vec!["orders".to_owned()],
            chart: None,
        };
        let params = KpiParams {
            from: Default::default(),
            to: Default::default(),
            from_date: Default::default(),
            to_date: Default::default(),
            by: section.by.clone(),
            filters: section.filters.clone(),
            time_zone: chrono_tz::Tz::UTC,
        };
        let rows = RecordBatch::try_from_iter([
            ("region", Arc::new(StringArray::from(vec![hostile])) as ArrayRef),
            ("orders", Arc::new(Int64Array::from(vec![3])) as ArrayRef),
        ])?;
        let empty = SectionDef { id: Some("empty".to_owned()), totals: vec![], ..section.clone() };
        let sections = [
            SectionResult { def: section, params: params.clone(), rows: Some(rows) },
            SectionResult { def: empty, params, rows: None },
        ];
        let m = Manifest {
            report: hostile.to_owned(),
            title: hostile.to_owned(),
            period: hostile.to_owned(),
            period_start: hostile.to_owned(),
            period_end: hostile.to_owned(),
            time_zone: hostile.to_owned(),
            agent: Some(Uuid::nil()),
            lake_version: 7,
            audience: vec![],
            files: vec![],
        };
        let html = to_html(&def, &m, &sections, &[None, Some("<svg></svg>".to_owned())])?;
        let agent = Uuid::nil();
        assert!(!html.contains("<i>"), "{html}");
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"), "{html}");
        assert!(html.contains(&format!("<title>{escaped} — agent {agent} {escaped}</title><style>body{{")), "{html}");
        assert!(html.contains(&format!("<h1>{escaped} — agent {agent}</h1>\n<p>{escaped}</p>\n")), "{html}");
        assert!(html.contains("Lake version</td><td><b>7</b>"), "{html}");
        assert!(html.contains(&format!("<tr><td>Service agent</td><td>{agent}</td></tr></table>")), "{html}");
        assert!(html.contains(&format!("<section id=\"{escaped}\"><h2>{escaped}</h2>\n")), "{html}");
        let kpi = format!(
            "<p class=\"note\">KPI <code>{escaped}</code>, 1970-01-01T00:00:00+00:00 to 1970-01-01T00:00:00+00:00, \
             by {escaped}, {escaped}={escaped}</p>"
        );
        assert!(html.contains(&kpi), "{html}");
        assert!(html.contains(&format!("<tr><td>{escaped}</td><td class=\"n\">3</td></tr>")), "{html}");
        assert!(html.contains("<tfoot><tr><td class=\"n\">Total</td><td class=\"n\">3</td></tr></tfoot></table>"));
        assert!(html.contains("<div class=\"chart\"><svg></svg></div>"), "{html}");
        assert!(html.contains("<p class=\"note\">No rows for this period.</p>\n</section>"), "{html}");
        assert!(html.ends_with(&format!(
            "<footer>Fieldhouse report <code>{escaped}</code>, period {escaped}, computed as of lake version 7. \
             Rerunning it for the same period and lake version gives the same numbers.</footer></body></html>\n"
        )));
        Ok(())
    }

    #[test]
    fn categories_sort_numerically_when_numbers() {
        let mut c: Vec<String> = ["10", "2", "1"].map(String::from).to_vec();
        sort_categories(&mut c);
        assert_eq!(c, ["1", "2", "10"]);
        let mut w: Vec<String> = ["2026-W10", "2026-W09"].map(String::from).to_vec();
        sort_categories(&mut w);
        assert_eq!(w, ["2026-W09", "2026-W10"]);
    }
}
