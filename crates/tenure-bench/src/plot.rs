//! Grouped bar charts (SVG): one group per workload, one bar per system.

use std::path::Path;

use plotters::prelude::*;

use crate::{BenchError, RunReport, System};

/// Bar colours: Tenure in blues and greens, the peers in warm colours.
fn colour(s: System) -> RGBColor {
    match s {
        System::TenureExclusive => RGBColor(31, 119, 180),
        System::TenureInterval => RGBColor(44, 160, 44),
        System::TenureOptimistic => RGBColor(23, 190, 207),
        System::TowerRedis => RGBColor(214, 39, 40),
        System::TowerMokaRedis => RGBColor(255, 127, 14),
        System::ActixRedis => RGBColor(148, 103, 189),
    }
}

fn plot_error<E: std::fmt::Display>(e: E) -> BenchError {
    BenchError::Report(format!("plot: {e}"))
}

/// Draws `value` of every measurement in `r` to `path`. With `log`, the bars' heights
/// are log10 of the values (for figures spanning orders of magnitude).
pub fn grouped_bars(
    r: &RunReport,
    path: &Path,
    title: &str,
    y_desc: &str,
    log: bool,
    value: fn(&crate::Measurement) -> f64,
) -> Result<(), BenchError> {
    let systems: Vec<System> = r.systems.iter().filter_map(|s| s.parse().ok()).collect();
    let groups = r.workloads.len().max(1);
    let height = |v: f64| if log { v.max(1.0).log10() } else { v };
    let top = r
        .measurements
        .iter()
        .map(|m| height(value(m)))
        .fold(0.0_f64, f64::max);
    let top = if log {
        top.ceil().max(1.0)
    } else {
        top * 1.1 + 1e-9
    };

    let root = SVGBackend::new(path, (960, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..groups as f64, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y_desc)
        .y_labels(if log { top as usize + 1 } else { 10 })
        .y_label_formatter(&|v| {
            if log {
                let n = 10f64.powf(*v);
                if n >= 1000.0 {
                    format!("{:.0}k", n / 1000.0)
                } else {
                    format!("{n:.0}")
                }
            } else {
                format!("{v:.0}")
            }
        })
        .draw()
        .map_err(plot_error)?;

    let width = 0.8 / systems.len().max(1) as f64;
    for (k, s) in systems.iter().enumerate() {
        let c = colour(*s);
        let bars: Vec<Rectangle<(f64, f64)>> = r
            .workloads
            .iter()
            .enumerate()
            .filter_map(|(g, w)| {
                let m = r
                    .measurements
                    .iter()
                    .find(|m| m.workload == w.id && m.system == s.slug())?;
                let x0 = g as f64 + 0.1 + k as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, height(value(m)))],
                    c.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(plot_error)?
            .label(s.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    for (g, w) in r.workloads.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            format!("({})", w.id),
            (x - 10, y + 10),
            ("sans-serif", 16).into_font(),
        ))
        .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}
