//! One measured figure of the benchmark report. Every scenario returns
//! figures; the report module turns them into results JSON and REPORT.md.

use serde::{Deserialize, Serialize};

/// How a figure is judged against its target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = "==")]
    Equal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub cmp: Cmp,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Stable key, e.g. "ratio.established_vs_minimal".
    pub id: String,
    /// What a person reads, e.g. "3 / 1 established flows vs minimal redirect".
    pub name: String,
    /// "ratio", "pps", "ns/packet", "ms", "us", "entries/s", "MiB", "share", "count".
    pub unit: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Every repetition's value (at least 5 for anything timed).
    pub samples: Vec<f64>,
    pub target: Option<Target>,
    /// None when there is no target.
    pub pass: Option<bool>,
    /// How it was measured; for a missed target, what explains it.
    pub note: String,
}

impl Figure {
    /// A figure from repeated samples (median, min, max computed here).
    pub fn from_samples(
        id: &str,
        name: &str,
        unit: &str,
        samples: Vec<f64>,
        target: Option<Target>,
        note: &str,
    ) -> Figure {
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let min = sorted.first().copied().unwrap_or(f64::NAN);
        let max = sorted.last().copied().unwrap_or(f64::NAN);
        let pass = target.as_ref().map(|t| match t.cmp {
            Cmp::AtLeast => median >= t.value,
            Cmp::AtMost => median <= t.value,
            Cmp::Equal => median == t.value,
        });
        Figure {
            id: id.into(),
            name: name.into(),
            unit: unit.into(),
            median,
            min,
            max,
            samples,
            target,
            pass,
            note: note.into(),
        }
    }

    /// Ratio of two same-run sample series, pairwise (sample i of `num`
    /// over sample i of `den`), so each repetition compares like with like.
    pub fn ratio(
        id: &str,
        name: &str,
        num: &[f64],
        den: &[f64],
        target: Option<Target>,
        note: &str,
    ) -> Figure {
        let samples = num.iter().zip(den).map(|(a, b)| a / b).collect();
        Figure::from_samples(id, name, "ratio", samples, target, note)
    }
}

pub fn at_least(v: f64) -> Option<Target> {
    Some(Target {
        cmp: Cmp::AtLeast,
        value: v,
    })
}
pub fn at_most(v: f64) -> Option<Target> {
    Some(Target {
        cmp: Cmp::AtMost,
        value: v,
    })
}
pub fn equal(v: f64) -> Option<Target> {
    Some(Target {
        cmp: Cmp::Equal,
        value: v,
    })
}
