//! The three output forms of a report: an aligned table for people, JSON and CSV for scripts.

mod csv;
mod table;

pub use csv::{csv_field, render_csv};
pub use table::{format_table, render_table};

use crate::report::Report;

/// `-o` / `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table with totals.
    #[default]
    Table,
    /// The report object as JSON (amounts in base units: millicores, bytes).
    Json,
    /// One line per VPA container, amounts in base units.
    Csv,
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: OutputFormat) -> Result<String, serde_json::Error> {
    Ok(match format {
        OutputFormat::Table => render_table(report),
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            text
        }
        OutputFormat::Csv => render_csv(report),
    })
}
