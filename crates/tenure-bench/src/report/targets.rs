//! The targets table: each of the targets, judged for every Tenure variant
//! against the same run's reference figures (the fastest peer, the limit,
//! tower-sessions).

use std::fmt::Write as _;

use super::*;

/// One Tenure variant's outcome on one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The target is met; the figure.
    Met(String),
    /// The target is missed; the figure.
    Missed(String),
    /// The figure, but the target is not this variant's (interval writes on (d)).
    Figure(String),
    /// No figure: what was not run.
    NotRun(String),
}

impl Verdict {
    pub(super) fn check(ok: bool, text: String) -> Self {
        if ok {
            Verdict::Met(text)
        } else {
            Verdict::Missed(text)
        }
    }

    /// Whether the target is met (`None`: no verdict).
    pub fn met(&self) -> Option<bool> {
        match self {
            Verdict::Met(_) => Some(true),
            Verdict::Missed(_) => Some(false),
            Verdict::Figure(_) | Verdict::NotRun(_) => None,
        }
    }

    pub(super) fn cell(&self) -> String {
        match self {
            Verdict::Met(t) => format!("met: {t}"),
            Verdict::Missed(t) => format!("**missed:** {t}"),
            Verdict::Figure(t) | Verdict::NotRun(t) => t.clone(),
        }
    }
}

/// One row of the targets table.
#[derive(Debug, Clone)]
pub struct TargetRow {
    /// The figure, e.g. `(a) throughput`.
    pub figure: &'static str,
    /// The target, e.g. `≥ 1.0 × the fastest peer`.
    pub target: &'static str,
    /// The same run's references, in words.
    pub reference: String,
    /// The verdict of every Tenure variant that ran, in [`TENURE`] order.
    pub cells: Vec<(System, Verdict)>,
}

/// What a target compares against, on one workload.
struct Refs<'a> {
    limit: Option<&'a Measurement>,
    peer: Option<&'a Measurement>,
    tower: Option<&'a Measurement>,
}

type Check = fn(System, &Measurement, &Refs<'_>) -> Verdict;

/// `m`'s throughput as a multiple of the fastest peer's, at least `bound`.
fn throughput_vs_peer(m: &Measurement, refs: &Refs<'_>, bound: f64) -> Verdict {
    match refs.peer {
        Some(p) => {
            let x = m.throughput / p.throughput.max(1e-9);
            Verdict::check(x >= bound, format!("{x:.2}× ({})", req_s(m)))
        }
        None => Verdict::NotRun("no peer run".into()),
    }
}

/// `m`'s p99 as a multiple of the fastest peer's, at most `bound`.
fn p99_vs_peer(m: &Measurement, refs: &Refs<'_>, bound: f64) -> Verdict {
    match refs.peer {
        Some(p) => {
            let x = m.p99_ms / p.p99_ms.max(1e-9);
            Verdict::check(x <= bound, format!("{x:.2}× ({:.2} ms)", m.p99_ms))
        }
        None => Verdict::NotRun("no peer run".into()),
    }
}

/// The rows of the targets table that compare one workload's figures.
const WORKLOAD_TARGETS: [(&str, &str, &str, Check); 8] = [
    (
        "(a) throughput",
        "≥ 0.8 × the limit, and ≥ 1.3 × the fastest peer",
        "a",
        |_, m, refs| match (refs.limit, refs.peer) {
            (Some(l), Some(p)) => {
                let vs_limit = m.throughput / l.throughput.max(1e-9);
                let vs_peer = m.throughput / p.throughput.max(1e-9);
                Verdict::check(
                    vs_limit >= 0.8 && vs_peer >= 1.3,
                    format!("{vs_limit:.2}× the limit, {vs_peer:.2}× the peer"),
                )
            }
            (None, _) => Verdict::NotRun("no limit run".into()),
            (_, None) => Verdict::NotRun("no peer run".into()),
        },
    ),
    (
        "(a) p99 latency",
        "≤ 1.5 × the fastest peer's p99",
        "a",
        |_, m, refs| p99_vs_peer(m, refs, 1.5),
    ),
    (
        "(b) throughput",
        "≥ 1.0 × the fastest peer",
        "b",
        |_, m, refs| throughput_vs_peer(m, refs, 1.0),
    ),
    (
        "(b) p99 latency",
        "≤ 2 × the fastest peer's p99",
        "b",
        |_, m, refs| p99_vs_peer(m, refs, 2.0),
    ),
    (
        "(c) bytes per request",
        "≤ 1/100 of tower-sessions'",
        "c",
        |_, m, refs| match refs.tower {
            Some(_) if m.bytes_per_request <= 0.0 => Verdict::Met("0 B".into()),
            Some(t) => {
                let x = t.bytes_per_request / m.bytes_per_request;
                Verdict::check(
                    x >= 100.0,
                    format!("1/{x:.0} ({})", bytes(m.bytes_per_request)),
                )
            }
            None => Verdict::NotRun("tower-sessions not run".into()),
        },
    ),
    (
        "(d) throughput, end-of-request writes",
        "≥ 1.0 × the fastest peer",
        "d",
        |s, m, refs| {
            let v = throughput_vs_peer(m, refs, 1.0);
            match v {
                Verdict::Met(t) | Verdict::Missed(t) if !s.writes_at_end_of_request() => {
                    Verdict::Figure(format!("{t}; interval writes, not this target"))
                }
                v => v,
            }
        },
    ),
    (
        "(e) throughput",
        "≥ 1.0 × the fastest peer",
        "e",
        |_, m, refs| throughput_vs_peer(m, refs, 1.0),
    ),
    (
        "(a) Redis commands per request",
        "≤ 0.45 with end-of-request writes, ≤ 0.05 with `every(1 s)` (the interval variant)",
        "a",
        |s, m, _| {
            let bound = if s.writes_at_end_of_request() {
                0.45
            } else {
                0.05
            };
            Verdict::check(
                m.commands_per_request <= bound,
                format!("{:.3} (≤ {bound})", m.commands_per_request),
            )
        },
    ),
];

/// Every measurement of the run: the main part, the sweep and the cluster part.
fn every_measurement(r: &RunReport) -> impl Iterator<Item = &Measurement> {
    r.measurements
        .iter()
        .chain(r.sweep.iter().flat_map(|s| &s.measurements))
        .chain(r.cluster.iter().flat_map(|c| &c.measurements))
}

/// Lost updates and stale reads over every run of `s`.
fn correctness(r: &RunReport, s: System) -> Verdict {
    let runs: Vec<&Measurement> = every_measurement(r)
        .filter(|m| m.system == s.slug())
        .collect();
    if runs.is_empty() {
        return Verdict::NotRun("not run".into());
    }
    let lost: u64 = runs.iter().filter_map(|m| m.lost_updates).sum();
    let stale: u64 = runs.iter().filter_map(|m| m.stale_reads).sum();
    let unreadable: u64 = runs.iter().map(|m| m.unreadable_sessions).sum();
    let unaudited = runs
        .iter()
        .filter(|m| m.lost_updates.is_none() || m.stale_reads.is_none())
        .count();
    let mut text = format!(
        "{} lost, {} stale over {} runs",
        thousands(lost),
        thousands(stale),
        runs.len()
    );
    if unreadable > 0 {
        let _ = write!(text, ", {} sessions unreadable", thousands(unreadable));
    }
    if unaudited > 0 {
        let _ = write!(text, ", {unaudited} not audited");
    }
    Verdict::check(
        lost == 0 && stale == 0 && unreadable == 0 && unaudited == 0,
        text,
    )
}

/// The targets, for every Tenure variant that ran, from this run's figures.
pub fn targets(r: &RunReport) -> Vec<TargetRow> {
    let present: Vec<System> = TENURE
        .into_iter()
        .filter(|s| r.systems.iter().any(|x| x == s.slug()))
        .collect();
    if present.is_empty() {
        return Vec::new();
    }
    let ms = &r.measurements;
    let mut rows = Vec::new();
    for (figure, target, w, check) in WORKLOAD_TARGETS {
        if !r.workloads.iter().any(|x| x.id == w) {
            continue;
        }
        let refs = Refs {
            limit: limit(ms, w),
            peer: fastest_peer(ms, w),
            tower: find(ms, w, BASELINE),
        };
        let reference = match figure {
            f if f.contains("bytes") => refs.tower.map_or("–".into(), |t| {
                format!("tower-sessions: {}", bytes(t.bytes_per_request))
            }),
            f if f.contains("commands") => "–".into(),
            f if f.contains("p99") => refs.peer.map_or("–".into(), |p| {
                format!("{}: {:.2} ms", label(&p.system), p.p99_ms)
            }),
            _ => references(ms, w),
        };
        let cells = present
            .iter()
            .map(|&s| {
                let v = match find(ms, w, s) {
                    Some(m) => check(s, m, &refs),
                    None => Verdict::NotRun("not run".into()),
                };
                (s, v)
            })
            .collect();
        rows.push(TargetRow {
            figure,
            target,
            reference,
            cells,
        });
    }
    rows.push(TargetRow {
        figure: "lost updates, stale reads",
        target: "0 and 0 on every workload, every Tenure variant",
        reference: "every run of this report (main, sweep, cluster)".into(),
        cells: present.iter().map(|&s| (s, correctness(r, s))).collect(),
    });
    rows
}

pub(super) fn targets_table(r: &RunReport, out: &mut String) {
    let rows = targets(r);
    let Some(first) = rows.first() else {
        return;
    };
    let _ = write!(out, "| figure | target | this run's reference |");
    for (s, _) in &first.cells {
        if *s == System::TenureDefault {
            let _ = write!(out, " **{}** |", s.label());
        } else {
            let _ = write!(out, " {} |", s.label());
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(first.cells.len()));
    for row in &rows {
        let _ = write!(
            out,
            "| {} | {} | {} |",
            row.figure, row.target, row.reference
        );
        for (_, v) in &row.cells {
            let _ = write!(out, " {} |", v.cell());
        }
        let _ = writeln!(out);
    }
    out.push('\n');
}
