//! Loading the shared datasets and running every contender over every trace.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::contender::{ContenderError, ContenderSpec};
use crate::fill::{FillConfig, MinuteSeries, to_minutes};
use crate::import::{ImportError, parse_alibaba_2018, parse_bitbrains, read_genai_gz};
use crate::policy::ResizePolicy;
use crate::replay::{Step, replay};
use crate::score::Score;
use crate::trace::Trace;

/// Traces shorter than this after filling are listed but not scored: no recommender says much in an hour.
pub const MIN_MINUTES: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Import { path: PathBuf, source: ImportError },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{contender} on {dataset}/{trace}: {source}")]
    Contender {
        contender: String,
        dataset: String,
        trace: String,
        source: ContenderError,
    },
}

fn read(path: &Path) -> Result<String, RunError> {
    std::fs::read_to_string(path).map_err(|source| RunError::Io {
        path: path.to_owned(),
        source,
    })
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, RunError> {
    let io = |source| RunError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    // Numeric names (Bitbrains `1.csv`…`40.csv`) sort numerically, the rest by name.
    files.sort_by_key(|p| {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (stem.parse::<u64>().unwrap_or(u64::MAX), stem)
    });
    Ok(files)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The three datasets of `shared/traces/`. `limit` keeps only the first traces of each (the test subset).
pub fn load_shared(root: &Path, limit: Option<usize>) -> Result<Vec<Trace>, RunError> {
    let take = limit.unwrap_or(usize::MAX);
    let mut traces = Vec::new();
    let bb = root.join("bitbrains-rnd/2013-7");
    for path in sorted_files(&bb, "csv")?.into_iter().take(take) {
        let t =
            parse_bitbrains("bitbrains-rnd", &stem(&path), &read(&path)?).map_err(|source| {
                RunError::Import {
                    path: path.clone(),
                    source,
                }
            })?;
        traces.push(t);
    }
    let ali = root.join("alibaba-2018");
    for path in sorted_files(&ali, "csv")?.into_iter().take(take) {
        let t =
            parse_alibaba_2018("alibaba-2018", &stem(&path), &read(&path)?).map_err(|source| {
                RunError::Import {
                    path: path.clone(),
                    source,
                }
            })?;
        traces.push(t);
    }
    let gz = root.join("alibaba-genai-2026/pod_memory_util.csv.gz");
    let file = std::fs::File::open(&gz).map_err(|source| RunError::Io {
        path: gz.clone(),
        source,
    })?;
    let mut genai =
        read_genai_gz("alibaba-genai-2026", std::io::BufReader::new(file)).map_err(|source| {
            RunError::Import {
                path: gz.clone(),
                source,
            }
        })?;
    // Longest pods first, so a subset takes the ones that say the most.
    genai.sort_by(|a, b| {
        b.points
            .len()
            .cmp(&a.points.len())
            .then(a.name.cmp(&b.name))
    });
    traces.extend(genai.into_iter().take(take));
    Ok(traces)
}

/// One contender's score on one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceScore {
    pub dataset: String,
    pub trace: String,
    pub contender: String,
    pub score: Score,
}

/// Per contender, its replay's steps.
pub type PlotRuns = Vec<(String, Vec<Step>)>;

#[derive(Debug, Default)]
pub struct Evaluation {
    pub scores: Vec<TraceScore>,
    /// Traces too short to score, as `dataset/name (minutes)`.
    pub skipped: Vec<String>,
    /// Steps per plotted trace: (dataset, trace) → per contender.
    pub plots: Vec<((String, String), PlotRuns)>,
}

impl Evaluation {
    /// Pooled score per (dataset, contender), in first-seen order.
    pub fn by_dataset(&self) -> Vec<(String, String, Score)> {
        let mut out: Vec<(String, String, Score)> = Vec::new();
        for s in &self.scores {
            match out
                .iter_mut()
                .find(|(d, c, _)| *d == s.dataset && *c == s.contender)
            {
                Some((_, _, acc)) => *acc += &s.score,
                None => out.push((s.dataset.clone(), s.contender.clone(), s.score)),
            }
        }
        out
    }

    pub fn dataset_score(&self, dataset: &str, contender: &str) -> Option<Score> {
        self.by_dataset()
            .into_iter()
            .find(|(d, c, _)| d == dataset && c == contender)
            .map(|(_, _, s)| s)
    }
}

/// Runs every contender over every trace on `jobs` threads. `plot` names `dataset/trace` keys to keep steps for.
pub fn evaluate(
    traces: &[Trace],
    contenders: &[ContenderSpec],
    fill: &FillConfig,
    policy: &ResizePolicy,
    plot: &[String],
    jobs: usize,
) -> Result<Evaluation, RunError> {
    let mut eval = Evaluation::default();
    let series: Vec<MinuteSeries> = traces
        .iter()
        .map(|t| to_minutes(t, fill))
        .filter(|s| {
            let keep = s.minutes.len() >= MIN_MINUTES;
            if !keep {
                eval.skipped.push(format!(
                    "{}/{} ({} min)",
                    s.dataset,
                    s.name,
                    s.minutes.len()
                ));
            }
            keep
        })
        .collect();
    let next = AtomicUsize::new(0);
    type Slot = Result<SeriesRun, RunError>;
    let results: Mutex<Vec<(usize, Slot)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(s) = series.get(i) else { break };
                    let keep = plot.contains(&format!("{}/{}", s.dataset, s.name));
                    let r = run_series(s, contenders, policy, keep);
                    if let Ok(mut v) = results.lock() {
                        v.push((i, r));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    for (i, r) in results {
        let (scores, steps) = r?;
        eval.scores.extend(scores);
        if let (Some(steps), Some(s)) = (steps, series.get(i)) {
            eval.plots
                .push(((s.dataset.clone(), s.name.clone()), steps));
        }
    }
    Ok(eval)
}

type SeriesRun = (Vec<TraceScore>, Option<PlotRuns>);

fn run_series(
    s: &MinuteSeries,
    contenders: &[ContenderSpec],
    policy: &ResizePolicy,
    keep: bool,
) -> Result<SeriesRun, RunError> {
    let mut scores = Vec::new();
    let mut steps = Vec::new();
    for spec in contenders {
        let name = spec.name();
        let wrap = |source| RunError::Contender {
            contender: name.clone(),
            dataset: s.dataset.clone(),
            trace: s.name.clone(),
            source,
        };
        let mut c = spec.build().map_err(wrap)?;
        let r = replay(s, c.as_mut(), policy, keep).map_err(wrap)?;
        scores.push(TraceScore {
            dataset: s.dataset.clone(),
            trace: s.name.clone(),
            contender: name.clone(),
            score: r.score,
        });
        if keep {
            steps.push((name, r.steps));
        }
    }
    Ok((scores, keep.then_some(steps)))
}
