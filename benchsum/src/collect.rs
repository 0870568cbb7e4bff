//! Reads each row's figure (and its baseline) from the files of one `make bench` run. A file older than the
//! run's start stamp is reported as stale, never as a figure of this run.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::parse::{self, ParseError};
use crate::spec::{LogFigure, Row, Source};

/// Why a figure is not in the table.
#[derive(Debug, thiserror::Error)]
pub enum Missing {
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: older than this run's start (the benchmark did not run or failed)")]
    Stale { path: PathBuf },
    #[error("{path}: {source}")]
    Unparsable { path: PathBuf, source: ParseError },
}

/// Where one run's results are.
#[derive(Debug, Clone)]
pub struct RunFiles {
    /// `target/criterion`.
    pub criterion: PathBuf,
    /// Where the benches and the Makefile wrote figure files, logs and `/usr/bin/time` reports.
    pub figures: PathBuf,
    /// When the run started; files older than this are stale. `None` accepts any file.
    pub started: Option<SystemTime>,
}

/// A row's outcome: its figure, and its baseline figure when it has one.
#[derive(Debug)]
pub struct Measured {
    pub value: Result<f64, Missing>,
    pub baseline: Option<Result<f64, Missing>>,
}

impl RunFiles {
    pub fn measure(&self, row: &Row) -> Measured {
        Measured {
            value: self.read(row.source),
            baseline: row.baseline.map(|b| self.read(b.source)),
        }
    }

    /// One figure, in its base unit.
    pub fn read(&self, source: Source) -> Result<f64, Missing> {
        match source {
            Source::Criterion { id, per } => {
                let path = self.criterion_file(id);
                let e = self.parse(&path, parse::criterion_estimates)?;
                Ok(e.median_ns / per)
            }
            Source::CriterionRate { id, elements } => {
                let path = self.criterion_file(id);
                let e = self.parse(&path, parse::criterion_estimates)?;
                Ok(elements / (e.median_ns / 1e9))
            }
            Source::Figure { file, key } => {
                self.parse(&self.figures.join(file), |t| parse::figure(t, key))
            }
            Source::MaxRss { file } => self.parse(&self.figures.join(file), parse::max_rss_bytes),
            Source::Log { file, parse } => {
                let path = self.figures.join(file);
                match parse {
                    LogFigure::Number { line, after, scale } => {
                        self.parse(&path, |t| Ok(parse::number_after(t, line, after)? * scale))
                    }
                    LogFigure::TableRow { label, scale } => {
                        self.parse(&path, |t| Ok(parse::table_row(t, label)? * scale))
                    }
                    LogFigure::Duration { line, after } => {
                        self.parse(&path, |t| parse::duration_after(t, line, after))
                    }
                }
            }
        }
    }

    fn criterion_file(&self, id: &str) -> PathBuf {
        self.criterion.join(id).join("new").join("estimates.json")
    }

    fn parse<T>(
        &self,
        path: &Path,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, Missing> {
        let unreadable = |source| Missing::Unreadable {
            path: path.to_owned(),
            source,
        };
        if let Some(started) = self.started {
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(unreadable)?;
            if modified < started {
                return Err(Missing::Stale {
                    path: path.to_owned(),
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        parse(&text).map_err(|source| Missing::Unparsable {
            path: path.to_owned(),
            source,
        })
    }
}
