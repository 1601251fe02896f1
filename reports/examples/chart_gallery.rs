//! Writes one chart of each kind to a folder, as PNG and SVG, to look at:
//! `cargo run -p fieldhouse-reports --example chart_gallery -- /tmp/charts`.

use fieldhouse_reports::charts::{Chart, ChartData, Series, to_png, to_svg};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "chart-gallery".into());
    std::fs::create_dir_all(&dir)?;
    let weeks: Vec<String> = (31..43).map(|w| format!("2026-W{w}")).collect();
    let charts = [
        (
            "line",
            Chart {
                title: "SLA response compliance, last 12 weeks".into(),
                x_label: "week".into(),
                y_label: "compliance %".into(),
                data: ChartData::Line {
                    categories: weeks,
                    series: vec![
                        Series {
                            name: "P1".into(),
                            values: (0..12).map(|i| Some(78.0 + f64::from(i % 5) * 3.0)).collect(),
                        },
                        Series {
                            name: "P2".into(),
                            values: (0..12).map(|i| (i != 6).then_some(85.0 - f64::from(i % 4))).collect(),
                        },
                    ],
                },
            },
        ),
        (
            "bar",
            Chart {
                title: "First-time fix rate by region".into(),
                x_label: "region".into(),
                y_label: "first-time fix %".into(),
                data: ChartData::Bar {
                    categories: ["North", "South", "East", "West", "Central"].map(String::from).to_vec(),
                    values: vec![88.0, 80.5, 63.0, 71.2, 84.9],
                },
            },
        ),
        (
            "histogram",
            Chart {
                title: "Response time distribution".into(),
                x_label: "minutes from opening to arrival".into(),
                y_label: "orders".into(),
                data: ChartData::Histogram {
                    values: (0..400).map(|i| f64::from((i * i * 7) % 480)).collect(),
                    bins: 20,
                },
            },
        ),
        (
            "pareto",
            Chart {
                title: "Fault codes (Pareto)".into(),
                x_label: "fault code".into(),
                y_label: "failures".into(),
                data: ChartData::Pareto {
                    categories: ["E101", "E204", "E310", "E077", "E450", "E999"].map(String::from).to_vec(),
                    values: vec![12.0, 48.0, 25.0, 6.0, 3.0, 9.0],
                },
            },
        ),
    ];
    for (name, chart) in &charts {
        std::fs::write(format!("{dir}/{name}.png"), to_png(chart)?)?;
        std::fs::write(format!("{dir}/{name}.svg"), to_svg(chart)?)?;
    }
    println!("wrote {} charts to {dir}", charts.len());
    Ok(())
}
