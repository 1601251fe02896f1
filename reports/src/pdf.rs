//! The PDF form of a report (used for settlement statements): the header,
//! then each section's table with its totals row, on A4 landscape pages,
//! set in the shipped DejaVu Sans (embedded, subset) with krilla.
//! Deterministic: no creation date or random document id.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use crate::charts::{FONT_BOLD, FONT_REGULAR};
use crate::config::ReportDef;
use crate::render::{MAX_TABLE_ROWS, Manifest, SectionResult, display_rows, total_cell, totals};
use crate::{Error, Result};

const W: f32 = 842.0;
const H: f32 = 595.0;
const MARGIN: f32 = 40.0;
const ROW: f32 = 12.0;
const SIZE: f32 = 8.0;

fn pdf_err(e: impl std::fmt::Debug) -> Error {
    Error::Chart { chart: "pdf".into(), message: format!("{e:?}") }
}

/// Approximate advance of `text` in DejaVu Sans at `size` (digits and
/// separators exact, other characters at an average width).
fn text_width(text: &str, size: f32) -> f32 {
    text.chars()
        .map(|c| match c {
            '0'..='9' => 0.636,
            '.' | ',' | ' ' => 0.3178,
            '-' => 0.361,
            'i' | 'l' | 'j' | 'I' => 0.28,
            'm' | 'w' | 'M' | 'W' => 0.9,
            _ => 0.62,
        })
        .sum::<f32>()
        * size
}

fn fit(text: &str, width: f32, size: f32) -> String {
    if text_width(text, size) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&out, size) + text_width("…", size) + text_width(&c.to_string(), size) > width {
            break;
        }
        out.push(c);
    }
    out + "…"
}

struct Writer {
    doc: Document,
    regular: Font,
    bold: Font,
    pages: Vec<Vec<Op>>,
    y: f32,
    footer: String,
}

enum Op {
    Text { x: f32, y: f32, size: f32, bold: bool, text: String },
    Rect { x: f32, y: f32, w: f32, h: f32, grey: u8 },
}

impl Writer {
    fn page(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let n = self.pages.len() - 1;
        &mut self.pages[n]
    }

    fn need(&mut self, height: f32) {
        if self.pages.is_empty() || self.y + height > H - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        let y = self.y;
        self.page().push(Op::Text { x, y, size, bold, text: text.to_owned() });
    }

    fn line(&mut self, size: f32, bold: bool, text: &str) {
        self.need(size * 1.6);
        self.y += size * 1.4;
        self.text(MARGIN, size, bold, text);
    }

    fn finish(mut self) -> Result<Vec<u8>> {
        let total = self.pages.len();
        let pages = std::mem::take(&mut self.pages);
        for (k, ops) in pages.into_iter().enumerate() {
            let settings = PageSettings::from_wh(W, H).ok_or_else(|| pdf_err("page size"))?;
            let mut page = self.doc.start_page_with(settings);
            let mut surface = page.surface();
            for op in ops {
                draw(&mut surface, &self.regular, &self.bold, op);
            }
            let footer = format!("{} · page {} of {}", self.footer, k + 1, total);
            let op = Op::Text { x: MARGIN, y: H - MARGIN / 2.0, size: 7.0, bold: false, text: footer };
            draw(&mut surface, &self.regular, &self.bold, op);
            surface.finish();
            page.finish();
        }
        self.doc.finish().map_err(pdf_err)
    }
}

fn draw(surface: &mut Surface<'_>, regular: &Font, bold: &Font, op: Op) {
    match op {
        Op::Text { x, y, size, bold: b, text } => {
            surface.set_fill(Some(Fill { paint: rgb::Color::new(20, 20, 20).into(), ..Fill::default() }));
            let font = if b { bold.clone() } else { regular.clone() };
            surface.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
        }
        Op::Rect { x, y, w, h, grey } => {
            let Some(rect) = Rect::from_xywh(x, y, w, h) else { return };
            let mut pb = PathBuilder::new();
            pb.push_rect(rect);
            if let Some(path) = pb.finish() {
                surface.set_fill(Some(Fill { paint: rgb::Color::new(grey, grey, grey).into(), ..Fill::default() }));
                surface.draw_path(&path);
            }
        }
    }
}

/// Render the report's tables as a PDF document.
pub fn render_pdf(def: &ReportDef, m: &Manifest, sections: &[SectionResult]) -> Result<Vec<u8>> {
    let regular = Font::new(FONT_REGULAR.into(), 0).ok_or_else(|| pdf_err("regular font"))?;
    let bold = Font::new(FONT_BOLD.into(), 0).ok_or_else(|| pdf_err("bold font"))?;
    let mut w = Writer {
        doc: Document::new(),
        regular,
        bold,
        pages: Vec::new(),
        y: MARGIN,
        footer: format!("Fieldhouse · {} · {} · lake version {}", m.report, m.period, m.lake_version),
    };
    w.line(16.0, true, &def.title);
    if !def.description.is_empty() {
        w.line(9.0, false, &def.description);
    }
    w.line(
        9.0,
        false,
        &format!("Period {} ({} to {}, end exclusive, {})", m.period, m.period_start, m.period_end, m.time_zone),
    );
    if let Some(agent) = m.agent {
        w.line(9.0, false, &format!("Service agent {agent}"));
    }
    w.line(9.0, false, &format!("Computed as of lake version {}", m.lake_version));
    for s in sections.iter().filter(|s| s.def.table) {
        w.y += 10.0;
        w.line(12.0, true, &s.def.title);
        let Some(batch) = s.rows.as_ref().filter(|b| b.num_rows() > 0) else {
            w.line(SIZE, false, "No rows for this period.");
            continue;
        };
        let (headers, rows) = display_rows(batch, MAX_TABLE_ROWS)?;
        let numeric: Vec<bool> = batch.columns().iter().map(|c| c.data_type().is_numeric()).collect();
        let sums = totals(s)?;
        let total_row: Option<Vec<String>> = (!sums.is_empty()).then(|| {
            batch
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(k, f)| match sums.iter().find(|t| &t.0 == f.name()) {
                    Some((c, v, i)) => total_cell(c, *v, *i),
                    None if k == 0 => "Total".into(),
                    None => String::new(),
                })
                .collect()
        });
        // Column widths from content, scaled to the page.
        let mut widths: Vec<f32> = headers.iter().map(|h| text_width(h, SIZE)).collect();
        for row in rows.iter().chain(total_row.iter()) {
            for (k, cell) in row.iter().enumerate() {
                widths[k] = widths[k].max(text_width(cell, SIZE).min(200.0));
            }
        }
        let gap = 8.0;
        let avail = W - 2.0 * MARGIN - gap * widths.len() as f32;
        let sum: f32 = widths.iter().sum();
        if sum > avail {
            widths.iter_mut().for_each(|x| *x *= avail / sum);
        }
        let row_out = |w: &mut Writer, cells: &[String], bold: bool, shade: Option<u8>| {
            w.need(ROW + 2.0);
            w.y += ROW;
            if let Some(grey) = shade {
                let y = w.y - ROW + 2.5;
                let width = W - 2.0 * MARGIN;
                w.page().push(Op::Rect { x: MARGIN - 2.0, y, w: width, h: ROW, grey });
            }
            let mut x = MARGIN;
            for (k, cell) in cells.iter().enumerate() {
                let text = fit(cell, widths[k], SIZE);
                let tx = if numeric[k] { x + widths[k] - text_width(&text, SIZE) } else { x };
                w.text(tx, SIZE, bold, &text);
                x += widths[k] + gap;
            }
        };
        row_out(&mut w, &headers, true, Some(225));
        for (i, row) in rows.iter().enumerate() {
            row_out(&mut w, row, false, (i % 2 == 1).then_some(245));
        }
        if let Some(t) = &total_row {
            row_out(&mut w, t, true, Some(225));
        }
        if batch.num_rows() > MAX_TABLE_ROWS {
            w.line(
                SIZE,
                false,
                &format!("First {MAX_TABLE_ROWS} of {} rows; all rows are in the CSV.", batch.num_rows()),
            );
        }
    }
    w.finish()
}
