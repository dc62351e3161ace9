//! SVG plots: grouped bar charts (one group per workload, one bar per system) and the
//! affinity sweep's lines (throughput against affinity, one line per system).

use std::path::Path;

use plotters::prelude::*;

use crate::{BenchError, RunReport, SweepReport, System};

/// Colours: Tenure in blues and greens, the peers in warm colours, the limit grey.
fn colour(s: System) -> RGBColor {
    match s {
        System::TenureDefault => RGBColor(8, 48, 107),
        System::TenureRouted => RGBColor(106, 61, 154),
        System::TenureExclusive => RGBColor(31, 119, 180),
        System::TenureInterval => RGBColor(44, 160, 44),
        System::TenureOptimistic => RGBColor(23, 190, 207),
        System::TenureStructural => RGBColor(65, 171, 93),
        System::TowerRedis => RGBColor(214, 39, 40),
        System::TowerMokaRedis => RGBColor(255, 127, 14),
        System::ActixRedis => RGBColor(148, 103, 189),
        System::LimitMemory => RGBColor(127, 127, 127),
        System::TenurePostgres => RGBColor(0, 109, 44),
        System::TowerPostgres => RGBColor(140, 86, 75),
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
    // Headroom above the tallest bar for the legend.
    let top = if log {
        top.ceil().max(1.0) + 1.0
    } else {
        top * 1.5 + 1e-9
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

/// Draws the sweep's throughput against affinity to `path`: one line per system, the
/// limit (which runs at affinity 1.0 only) as a dashed level across.
pub fn sweep_lines(r: &RunReport, sweep: &SweepReport, path: &Path) -> Result<(), BenchError> {
    let systems: Vec<System> = r.systems.iter().filter_map(|s| s.parse().ok()).collect();
    let top = sweep
        .measurements
        .iter()
        .map(|m| m.throughput)
        .fold(0.0_f64, f64::max)
        // Headroom above the highest line for the legend.
        * 1.5
        + 1e-9;

    let root = SVGBackend::new(path, (960, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Workload ({}): throughput against affinity (higher is better)",
                sweep.workload
            ),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.02..1.02, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("affinity (share of requests sent back to the previous node)")
        .y_desc("requests/s")
        .x_labels(11)
        .y_labels(10)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(plot_error)?;

    for s in systems {
        let c = colour(s);
        let mut points: Vec<(f64, f64)> = sweep
            .measurements
            .iter()
            .filter(|m| m.system == s.slug())
            .map(|m| (m.affinity, m.throughput))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if points.is_empty() {
            continue;
        }
        if s.fixed_affinity().is_some() {
            let level = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, level), (1.0, level)],
                    8,
                    6,
                    c.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(s.label())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        } else {
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)).point_size(3))
                .map_err(plot_error)?
                .label(s.label())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}
