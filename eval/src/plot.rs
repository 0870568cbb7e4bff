//! PNG plots of demand against each contender's requests. Built without a font backend (no system fonts
//! needed), so the images carry no text: the file name names the trace, and the colours and axis ranges are
//! listed in the results markdown (see [`legend`]).

use std::path::Path;

use plotters::prelude::*;

use crate::replay::Step;

/// Colours by contender position in the plot, demand always black.
pub const PALETTE: [(u8, u8, u8, &str); 6] = [
    (230, 25, 75, "red"),
    (0, 130, 200, "blue"),
    (60, 180, 75, "green"),
    (245, 130, 48, "orange"),
    (145, 30, 180, "purple"),
    (128, 128, 0, "olive"),
];

#[derive(Debug, thiserror::Error)]
#[error("plotting {path}: {reason}")]
pub struct PlotError {
    path: String,
    reason: String,
}

/// Draws two panels (CPU above, memory below; a panel is blank when the trace lacks the resource): demand in
/// black, each contender's request in its palette colour. Returns the y-axis maxima (millicores, bytes).
pub fn plot_trace(path: &Path, runs: &[(String, Vec<Step>)]) -> Result<(f64, f64), PlotError> {
    let err = |e: &dyn std::fmt::Display| PlotError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let root = BitMapBackend::new(path, (1400, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let panels = root.split_evenly((2, 1));
    let Some((_, demand)) = runs.first() else {
        return Ok((0.0, 0.0));
    };
    let n = demand.len().max(2) as f64;
    let mut maxima = (0.0, 0.0);
    for (panel, cpu) in panels.iter().zip([true, false]) {
        let value = |s: &crate::replay::Step, request: bool| -> Option<f64> {
            match (cpu, request) {
                (true, false) => s.cpu_demand.map(|c| c.get() as f64),
                (true, true) => s.cpu_demand.map(|_| s.size.cpu_request.get() as f64),
                (false, false) => s.memory_demand.map(|m| m.get() as f64),
                (false, true) => s.memory_demand.map(|_| s.size.memory_request.get() as f64),
            }
        };
        let top = runs
            .iter()
            .flat_map(|(_, steps)| steps.iter().filter_map(|s| value(s, true)))
            .chain(demand.iter().filter_map(|s| value(s, false)))
            .fold(0.0f64, f64::max);
        if top <= 0.0 {
            continue;
        }
        let top = top * 1.05;
        if cpu {
            maxima.0 = top;
        } else {
            maxima.1 = top;
        }
        let mut chart = ChartBuilder::on(panel)
            .margin(10)
            .build_cartesian_2d(0.0..n, 0.0..top)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_labels(0)
            .y_labels(0)
            .draw()
            .map_err(|e| err(&e))?;
        let series = |steps: &[crate::replay::Step], request: bool| -> Vec<(f64, f64)> {
            steps
                .iter()
                .enumerate()
                .filter_map(|(i, s)| value(s, request).map(|v| (i as f64, v)))
                .collect()
        };
        chart
            .draw_series(LineSeries::new(
                series(demand, false),
                BLACK.stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        for (i, (_, steps)) in runs.iter().enumerate() {
            let (r, g, b, _) = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    series(steps, true),
                    RGBColor(r, g, b).stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(maxima)
}

/// Markdown lines naming each colour.
pub fn legend(names: &[String]) -> String {
    let mut s = String::from("black = demand (usage)");
    for (i, n) in names.iter().enumerate() {
        s.push_str(&format!(", {} = {n}", PALETTE[i % PALETTE.len()].3));
    }
    s
}
