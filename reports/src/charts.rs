//! Charts shared by reports and the dashboard: line (trend), bar, histogram
//! and Pareto charts drawn with plotters into SVG text or PNG bytes.
//!
//! Output is deterministic (same chart, same bytes) and of a fixed size
//! ([`WIDTH`] × [`HEIGHT`]). Text is laid out with the DejaVu Sans font that
//! ships in `reports/fonts/` (registered with plotters from the bytes
//! compiled into the binary), so PNGs do not depend on the fonts installed on
//! the machine; SVG text names the `sans-serif` family, laid out with the
//! same metrics.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::{Error, Result};

/// Chart width in pixels.
pub const WIDTH: u32 = 800;
/// Chart height in pixels.
pub const HEIGHT: u32 = 450;
/// The font family charts are drawn with (the shipped DejaVu Sans).
pub const FONT: &str = "sans-serif";

/// DejaVu Sans, shipped with the code (see `reports/fonts/LICENSE.txt`).
pub const FONT_REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold.
pub const FONT_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One named line of a line chart; `None` leaves a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// What a chart shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartData {
    /// Lines over ordered categories (weeks, months, months in service).
    Line { categories: Vec<String>, series: Vec<Series> },
    /// One bar per category, in the given order.
    Bar { categories: Vec<String>, values: Vec<f64> },
    /// The distribution of `values` in `bins` equal-width bins.
    Histogram { values: Vec<f64>, bins: u32 },
    /// Bars sorted by value, descending, with the cumulative share (%) as a
    /// line on a right-hand axis.
    Pareto { categories: Vec<String>, values: Vec<f64> },
}

/// A chart: titles and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub data: ChartData,
}

/// Register the shipped fonts with plotters (idempotent; called by the
/// renderers).
pub fn register_fonts() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_REGULAR).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, FONT_BOLD).is_ok()
    });
    if ok { Ok(()) } else { Err(Error::Chart { chart: String::new(), message: "the shipped font is invalid".into() }) }
}

/// Draw `chart` as an SVG document.
pub fn to_svg(chart: &Chart) -> Result<String> {
    register_fonts()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| chart_err(chart, e))?;
        root.present().map_err(|e| chart_err(chart, e))?;
    }
    Ok(out)
}

/// Draw `chart` as a PNG image (8-bit RGB).
pub fn to_png(chart: &Chart) -> Result<Vec<u8>> {
    register_fonts()?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| chart_err(chart, e))?;
        root.present().map_err(|e| chart_err(chart, e))?;
    }
    encode_png(&rgb, WIDTH, HEIGHT)
}

/// Encode an RGB buffer as PNG with fixed settings (deterministic).
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Balanced);
        let mut w = enc.write_header()?;
        w.write_image_data(rgb)?;
        w.finish()?;
    }
    Ok(out)
}

fn chart_err(chart: &Chart, e: impl std::fmt::Display) -> Error {
    Error::Chart { chart: chart.title.clone(), message: e.to_string() }
}

type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let empty = match &chart.data {
        ChartData::Line { categories, series } => categories.is_empty() || series.is_empty(),
        ChartData::Bar { categories, .. } | ChartData::Pareto { categories, .. } => categories.is_empty(),
        ChartData::Histogram { values, .. } => !values.iter().any(|v| v.is_finite()),
    };
    if empty {
        root.draw(&Text::new(chart.title.clone(), (20, 15), title_font()))?;
        let style = TextStyle::from((FONT, 16).into_font()).color(&RGBColor(100, 100, 100));
        root.draw(&Text::new("no data for this period", (WIDTH as i32 / 2 - 90, HEIGHT as i32 / 2), style))?;
        return Ok(());
    }
    match &chart.data {
        ChartData::Line { categories, series } => draw_line(root, chart, categories, series),
        ChartData::Bar { categories, values } => draw_bars(root, chart, categories, values, false),
        ChartData::Pareto { categories, values } => {
            let mut pairs: Vec<(&String, f64)> =
                categories.iter().zip(values.iter().map(|v| if v.is_finite() { *v } else { 0.0 })).collect();
            pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let cats: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
            let vals: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            draw_bars(root, chart, &cats, &vals, true)
        }
        ChartData::Histogram { values, bins } => draw_histogram(root, chart, values, *bins),
    }
}

fn title_font() -> TextStyle<'static> {
    TextStyle::from((FONT, 24).into_font().style(FontStyle::Bold))
}

fn label_font() -> TextStyle<'static> {
    TextStyle::from((FONT, 15).into_font())
}

fn desc_font() -> TextStyle<'static> {
    TextStyle::from((FONT, 16).into_font())
}

/// A y range from 0 (or the minimum, if negative) to a little above the maximum.
fn y_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo < 0.0 { lo - pad } else { lo })..hi + pad
}

/// Short, readable tick labels: no decimals for large numbers.
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if a >= 10_000.0 {
        format!("{:.0}k", v / 1_000.0)
    } else if a >= 100.0 || (v.fract() == 0.0) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn short(label: &str) -> String {
    const MAX: usize = 16;
    if label.chars().count() <= MAX {
        label.to_owned()
    } else {
        label.chars().take(MAX - 1).collect::<String>() + "…"
    }
}

fn draw_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    categories: &[String],
    series: &[Series],
) -> DrawResult<DB> {
    let n = categories.len() as i32;
    let y = y_range(series.iter().flat_map(|s| s.values.iter().flatten().copied()));
    let mut c = ChartBuilder::on(root)
        .caption(&chart.title, title_font())
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-1i32..n, y)?;
    let formatter =
        |i: &i32| categories.get(usize::try_from(*i).unwrap_or(usize::MAX)).map(|s| short(s)).unwrap_or_default();
    c.configure_mesh()
        .x_labels(categories.len().min(label_slots(categories)) + 2)
        .y_labels(8)
        .x_label_formatter(&formatter)
        .y_label_formatter(&|v| format_number(*v))
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(label_font())
        .axis_desc_style(desc_font())
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        // Consecutive runs of points; a missing value breaks the line.
        let mut runs: Vec<Vec<(i32, f64)>> = vec![Vec::new()];
        for (i, v) in s.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => runs.last_mut().map(|r| r.push((i as i32, v))).unwrap_or_default(),
                None => runs.push(Vec::new()),
            }
        }
        let mut labelled = false;
        for run in runs.into_iter().filter(|r| !r.is_empty()) {
            let points = run.clone();
            let ann = c.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            if !labelled && series.len() > 1 {
                ann.label(short(&s.name))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
                labelled = true;
            }
            c.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
    }
    if series.len() > 1 {
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(label_font())
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
    }
    Ok(())
}

type BarChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordi32>, RangedCoordf64>>;

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    categories: &[String],
    values: &[f64],
    pareto: bool,
) -> DrawResult<DB> {
    let n = categories.len().min(values.len());
    let vals: Vec<f64> = values[..n].iter().map(|v| if v.is_finite() { *v } else { 0.0 }).collect();
    let mut builder = ChartBuilder::on(root);
    builder.caption(&chart.title, title_font()).margin(15).x_label_area_size(45).y_label_area_size(65);
    if pareto {
        builder.right_y_label_area_size(65);
    }
    // Integer ranges are inclusive in plotters: `0..n-1` gives n segments.
    // One category would make the range empty (bars of negative width):
    // give it a second, empty segment.
    let last = (n as i32 - 1).max(1);
    let c = builder.build_cartesian_2d((0..last).into_segmented(), y_range(vals.iter().copied()))?;
    if !pareto {
        let mut c = c;
        bar_mesh_and_bars(&mut c, chart, categories, &vals)?;
        return Ok(());
    }
    // The secondary axis takes the right-hand label area; set it before the
    // primary mesh so the primary labels stay on the left.
    let mut c = c.set_secondary_coord((0..last).into_segmented(), 0f64..105f64);
    bar_mesh_and_bars(&mut c, chart, categories, &vals)?;
    c.configure_secondary_axes()
        .y_desc("cumulative %")
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(label_font())
        .axis_desc_style(desc_font())
        .draw()?;
    let total: f64 = vals.iter().filter(|v| **v > 0.0).sum();
    let mut cum = 0.0;
    let points: Vec<(SegmentValue<i32>, f64)> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| {
            cum += v.max(0.0);
            (SegmentValue::CenterOf(i as i32), if total > 0.0 { cum / total * 100.0 } else { 0.0 })
        })
        .collect();
    let color = PALETTE[1];
    c.draw_secondary_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
    c.draw_secondary_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    Ok(())
}

fn bar_mesh_and_bars<DB: DrawingBackend>(
    c: &mut BarChart<'_, DB>,
    chart: &Chart,
    categories: &[String],
    vals: &[f64],
) -> DrawResult<DB> {
    let n = vals.len();
    let formatter = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => {
            categories.get(usize::try_from(*i).unwrap_or(usize::MAX)).map(|s| short(s)).unwrap_or_default()
        }
        _ => String::new(),
    };
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(label_slots(categories)))
        .x_label_formatter(&formatter)
        .y_labels(8)
        .y_label_formatter(&|v| format_number(*v))
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(label_font())
        .axis_desc_style(desc_font())
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    // Rectangles in category order (plotters' `Histogram` series iterates a
    // HashMap, which would make the output order, and so the bytes, vary).
    let margin = if n > 12 { 3 } else { 10 };
    c.draw_series(vals.iter().enumerate().map(|(i, v)| {
        let i = i as i32;
        let mut r =
            Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], PALETTE[0].filled());
        r.set_margin(0, 0, margin, margin);
        r
    }))?;
    Ok(())
}

/// How many category labels fit side by side along the x axis.
fn label_slots(categories: &[String]) -> usize {
    let widest = categories.iter().map(|c| short(c).chars().count()).max().unwrap_or(1).max(1);
    // About 8 px per character at the label size, plus a gap, over ~690 px.
    (690 / (widest * 8 + 14)).max(2)
}

/// Bin edges and counts for a histogram: `bins` equal-width bins from the
/// minimum to the maximum of the finite values.
pub fn histogram_bins(values: &[f64], bins: u32) -> Vec<(f64, f64, u64)> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (Some(lo), Some(hi)) = (finite.iter().copied().reduce(f64::min), finite.iter().copied().reduce(f64::max))
    else {
        return Vec::new();
    };
    let bins = bins.clamp(1, 200) as usize;
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let mut counts = vec![0u64; bins];
    for v in finite {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts.into_iter().enumerate().map(|(i, n)| (lo + i as f64 * width, lo + (i + 1) as f64 * width, n)).collect()
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    values: &[f64],
    bins: u32,
) -> DrawResult<DB> {
    let bins = histogram_bins(values, bins);
    let (lo, hi) = match (bins.first(), bins.last()) {
        (Some(f), Some(l)) => (f.0, l.1),
        _ => (0.0, 1.0),
    };
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
    let mut c = ChartBuilder::on(root)
        .caption(&chart.title, title_font())
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(lo..hi, 0f64..top * 1.08)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(10)
        .x_label_formatter(&|v| format_number(*v))
        .y_label_formatter(&|v| format_number(*v))
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(label_font())
        .axis_desc_style(desc_font())
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    c.draw_series(bins.iter().map(|(a, b, n)| {
        let mut r = Rectangle::new([(*a, 0.0), (*b, *n as f64)], PALETTE[0].filled());
        r.set_margin(0, 0, 1, 1);
        r
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cats(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("2026-W{:02}", 30 + i)).collect()
    }

    pub(crate) fn samples() -> Vec<Chart> {
        vec![
            Chart {
                title: "SLA response compliance".into(),
                x_label: "week".into(),
                y_label: "%".into(),
                data: ChartData::Line {
                    categories: cats(12),
                    series: vec![
                        Series { name: "P1".into(), values: (0..12).map(|i| Some(80.0 + i as f64)).collect() },
                        Series {
                            name: "P2".into(),
                            values: (0..12).map(|i| (i != 4).then_some(70.0 + i as f64)).collect(),
                        },
                    ],
                },
            },
            Chart {
                title: "First-time fix by region".into(),
                x_label: "region".into(),
                y_label: "%".into(),
                data: ChartData::Bar {
                    categories: vec!["North".into(), "South".into(), "East".into()],
                    values: vec![88.0, 80.5, 63.0],
                },
            },
            Chart {
                title: "Response time distribution".into(),
                x_label: "minutes".into(),
                y_label: "orders".into(),
                data: ChartData::Histogram { values: (0..200).map(|i| f64::from((i * 37) % 300)).collect(), bins: 20 },
            },
            Chart {
                title: "Fault codes".into(),
                x_label: "fault code".into(),
                y_label: "failures".into(),
                data: ChartData::Pareto {
                    categories: vec!["E01".into(), "E02".into(), "E03".into(), "E04".into()],
                    values: vec![5.0, 40.0, 12.0, 3.0],
                },
            },
        ]
    }

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn pngs_decode_at_the_fixed_size_and_are_not_blank() {
        for chart in samples() {
            let bytes = to_png(&chart).unwrap();
            let (info, pixels) = decode(&bytes);
            assert_eq!((info.width, info.height), (WIDTH, HEIGHT), "{}", chart.title);
            let non_white = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
            // Axes, bars, text: a drawn chart covers a good share of the canvas.
            assert!(non_white > 5_000, "{}: only {non_white} drawn pixels", chart.title);
            // Some pixels carry the bar/line colour.
            assert!(pixels.chunks(3).any(|p| p == [31, 119, 180]), "{}", chart.title);
        }
    }

    #[test]
    fn output_is_deterministic() {
        for chart in samples() {
            assert_eq!(to_png(&chart).unwrap(), to_png(&chart).unwrap());
            assert_eq!(to_svg(&chart).unwrap(), to_svg(&chart).unwrap());
        }
    }

    #[test]
    fn svg_has_size_title_and_labels() {
        let svg = to_svg(&samples()[1]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains(r#"width="800""#) && svg.contains(r#"height="450""#));
        for text in ["First-time fix by region", "North", "South", "East", "region"] {
            assert!(svg.contains(text), "missing {text}");
        }
        // The Pareto chart puts the biggest fault first and draws the % axis.
        let pareto = to_svg(&samples()[3]).unwrap();
        let (e02, e01) = (pareto.find("\nE02\n").unwrap(), pareto.find("\nE01\n").unwrap());
        assert!(e02 < e01, "bars are sorted descending");
        assert!(pareto.contains("cumulative %"));
    }

    #[test]
    fn one_category_draws_one_bar_of_positive_width() {
        for pareto in [false, true] {
            let data = if pareto {
                ChartData::Pareto { categories: vec!["E01".into()], values: vec![7.0] }
            } else {
                ChartData::Bar { categories: vec!["North".into()], values: vec![42.0] }
            };
            let chart = Chart { title: "One".into(), x_label: "x".into(), y_label: "y".into(), data };
            let svg = to_svg(&chart).unwrap();
            assert!(!svg.contains("width=\"-"), "negative width in {svg}");
            let bars = svg.matches("fill=\"#1F77B4\"").count() + svg.matches("fill=\"#1f77b4\"").count();
            assert!(bars >= 1, "no bar drawn: {svg}");
            let (info, _) = decode(&to_png(&chart).unwrap());
            assert_eq!(info.width, WIDTH);
        }
    }

    #[test]
    fn empty_charts_say_so() {
        let chart = Chart {
            title: "Empty".into(),
            x_label: String::new(),
            y_label: String::new(),
            data: ChartData::Bar { categories: vec![], values: vec![] },
        };
        assert!(to_svg(&chart).unwrap().contains("no data for this period"));
        let (info, _) = decode(&to_png(&chart).unwrap());
        assert_eq!(info.width, WIDTH);
    }

    #[test]
    fn histogram_bins_cover_all_values() {
        let bins = histogram_bins(&[0.0, 1.0, 2.0, 10.0, f64::NAN], 5);
        assert_eq!(bins.len(), 5);
        assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), 4);
        assert_eq!((bins[0].0, bins[4].1), (0.0, 10.0));
        assert_eq!(bins[0].2, 2, "0 and 1 fall in [0, 2)");
        assert_eq!(bins[4].2, 1, "the maximum falls in the last bin");
        assert_eq!(histogram_bins(&[3.0, 3.0], 4).iter().map(|b| b.2).sum::<u64>(), 2);
    }

    #[test]
    fn numbers_format_for_axes() {
        assert_eq!(format_number(1_250_000.0), "1.2M");
        assert_eq!(format_number(25_000.0), "25k");
        assert_eq!(format_number(88.0), "88");
        assert_eq!(format_number(88.25), "88.2");
        assert_eq!(format_number(0.125), "0.12");
    }
}
