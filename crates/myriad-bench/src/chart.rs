//! The SVG chart: time and memory per parked thread against N, log-log,
//! one line per system (plotters' SVG backend; no fonts needed).

use std::path::Path;

use plotters::prelude::*;

use crate::child::label;
use crate::report::{BulkPoint, Results};

const COLORS: [RGBColor; 6] = [
    RGBColor(214, 39, 40),   // myriad: red
    RGBColor(255, 127, 14),  // myriad from OS thread: orange
    RGBColor(31, 119, 180),  // std: blue
    RGBColor(44, 160, 44),   // tokio mt: green
    RGBColor(23, 190, 207),  // tokio ct: cyan
    RGBColor(148, 103, 189), // may: purple
];

type Series = Vec<(String, RGBColor, Vec<(f64, f64)>)>;

fn series(results: &Results, value: impl Fn(&BulkPoint) -> Option<f64>) -> Series {
    results
        .bulk_systems
        .iter()
        .enumerate()
        .map(|(i, sys)| {
            let mut pts: Vec<(f64, f64)> = results
                .bulk
                .iter()
                .filter(|b| &b.system == sys)
                .filter_map(|b| value(b).filter(|v| *v >= 1.0).map(|v| (b.n as f64, v)))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (label(sys).to_string(), COLORS[i % COLORS.len()], pts)
        })
        .collect()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    data: &Series,
) -> Result<(), String> {
    let ys: Vec<f64> = data.iter().flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y)).collect();
    let (lo, hi) = ys.iter().fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(*y), hi.max(*y)));
    let (lo, hi) = if ys.is_empty() { (1.0, 10.0) } else { (lo / 2.0, hi * 2.0) };
    let xs: Vec<f64> = data.iter().flat_map(|(_, _, p)| p.iter().map(|(x, _)| *x)).collect();
    let xmax = xs.iter().cloned().fold(1e4, f64::max) * 1.5;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((500f64..xmax).log_scale(), (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("threads parked at once (N)")
        .y_desc(y_desc)
        .light_line_style(TRANSPARENT)
        .y_labels(8)
        .x_label_formatter(&|x| crate::report::group(*x as i64))
        .y_label_formatter(&|y| {
            if *y >= 1e4 {
                format!("{:.0}k", y / 1e3)
            } else {
                format!("{y:.0}")
            }
        })
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(|e| e.to_string())?;
    for (_, color, pts) in data {
        chart.draw_series(LineSeries::new(pts.iter().cloned(), color.stroke_width(2))).map_err(|e| e.to_string())?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes the chart of `results` to `path`.
pub fn write(results: &Results, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled("myriad-bench: N threads parked at once, then released and joined (log-log; a line ends where the system failed)", ("sans-serif", 22))
        .map_err(|e| e.to_string())?;
    let (legend, panels) = root.split_vertically(40);
    let areas = panels.split_evenly((2, 2));
    let cold = series(results, |b| b.cold_summary().map(|s| s.median));
    // One legend for all four panels, in a strip above them.
    let mut x = 20;
    for (name, color, _) in cold.iter() {
        legend
            .draw(&PathElement::new(vec![(x, 20), (x + 24, 20)], color.stroke_width(3)))
            .map_err(|e| e.to_string())?;
        legend.draw(&Circle::new((x + 12, 20), 3, color.filled())).map_err(|e| e.to_string())?;
        legend
            .draw(&Text::new(name.clone(), (x + 30, 13), ("sans-serif", 13).into_font()))
            .map_err(|e| e.to_string())?;
        x += 60 + 7 * name.chars().count() as i32;
    }
    let warm = series(results, |b| b.warm_summary().map(|s| s.median));
    let rss = series(results, |b| b.memory(false).map(|m| m.0));
    let kernel = series(results, |b| b.memory(false).map(|m| m.1));
    panel(&areas[0], "time per thread, cold (first round in a fresh process)", "ns per thread", &cold)?;
    panel(&areas[1], "time per thread, warm (a later round)", "ns per thread", &warm)?;
    panel(&areas[2], "RSS per parked thread (cold round)", "bytes per thread", &rss)?;
    panel(&areas[3], "kernel memory per parked thread (machine-wide, noisy)", "bytes per thread", &kernel)?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
