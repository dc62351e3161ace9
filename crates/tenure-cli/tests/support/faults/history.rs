//! The history check of the fault tests, and the one-line figures each test prints.
//!
//! Per session, from every request's start, end and outcome and the counter stored at
//! the end:
//!
//! - a 2xx answer is an acknowledged, stored increment: the values the session's
//!   clients were given are distinct (**duplicated** counts repeats), none is above
//!   the stored counter, and the stored counter holds at least as many increments as
//!   were acknowledged (**lost** counts the shortfall);
//! - a 503 answer stored nothing; a 502 or 504 answer, or no answer, leaves the
//!   outcome **open** (maybe stored). Each value of `1..=stored` that no client was
//!   given must be explained by an open request that started before the write of the
//!   next acknowledged value ended; **unexplained** counts the rest (a "not stored"
//!   answer that stored, for one);
//! - no value goes **backwards**: a request that started after another was answered
//!   gets a greater value (so a node that served a stale copy is caught);
//! - no answer is 500 or any status but 2xx, 502, 503 or 504, and no request waited
//!   longer than the bound.
//!
//! The **recovery** of a session is the time from the fault until the end of its
//! first acknowledged request that started after it.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::workload::{Outcome, Record};

/// What a test's history showed.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub scenario: String,
    pub acknowledged: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub backwards: usize,
    /// Requests whose outcome is open (502, 504, no answer).
    pub open: usize,
    /// Values no client was given, explained by open requests.
    pub open_stored: usize,
    pub unexplained: usize,
    /// Answers by status (`failed`: no HTTP answer, `timeout`: none in time).
    pub statuses: BTreeMap<String, usize>,
    /// Per session, the time from the fault until it was served again (`None`: it
    /// was not); empty without a fault.
    pub recovery: Vec<Option<Duration>>,
    /// What the recovery is measured from.
    pub recovery_from: String,
    /// Sessions with no stored counter at the end.
    pub unstored: usize,
    /// The first few answers the check does not allow, described.
    pub refused: Vec<String>,
    /// The three slowest requests, described (start relative to the fault, or to
    /// the first request).
    pub slowest: Vec<String>,
    pub max_wait: Duration,
    pub bound: Duration,
}

fn label(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Answer { status, .. } => status.to_string(),
        Outcome::Failed(_) => "failed".into(),
        Outcome::TimedOut => "timeout".into(),
    }
}

/// Whether the check allows the outcome: 2xx, 502, 503, 504, or no HTTP answer.
fn allowed(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Answer { status, .. } => {
            (200..300).contains(status) || (502..=504).contains(status)
        }
        Outcome::Failed(_) => true,
        Outcome::TimedOut => false,
    }
}

/// Whether the outcome leaves it open if the increment was stored.
fn is_open(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Answer { status, .. } => matches!(status, 502 | 504),
        Outcome::Failed(_) | Outcome::TimedOut => true,
    }
}

/// Checks the history `records` against the counters `stored` at the end (by
/// session index). `fault`: when the fault began (for the recovery), and its name.
pub fn check(
    scenario: &str,
    records: &[Record],
    stored: &[Option<u64>],
    fault: Option<(Instant, &str)>,
    bound: Duration,
) -> Figures {
    let mut f = Figures {
        scenario: scenario.to_string(),
        bound,
        recovery_from: fault.map(|(_, what)| what.to_string()).unwrap_or_default(),
        ..Figures::default()
    };
    for r in records {
        *f.statuses.entry(label(&r.outcome)).or_default() += 1;
        f.max_wait = f.max_wait.max(r.end - r.start);
        if !allowed(&r.outcome) && f.refused.len() < 5 {
            f.refused
                .push(format!("session {}: {:?}", r.session, r.outcome));
        }
    }
    f.slowest = slowest(records, fault.map(|(at, _)| at), 3);
    for (session, counter) in stored.iter().enumerate() {
        let mine: Vec<&Record> = records.iter().filter(|r| r.session == session).collect();
        let acks: Vec<(u64, &Record)> = mine
            .iter()
            .filter_map(|r| r.acknowledged().map(|v| (v, *r)))
            .collect();
        let open_starts: Vec<Instant> = mine
            .iter()
            .filter(|r| is_open(&r.outcome))
            .map(|r| r.start)
            .collect();
        f.acknowledged += acks.len();
        f.open += open_starts.len();
        let counter = counter.unwrap_or_else(|| {
            f.unstored += 1;
            0
        });
        check_values(&mut f, &acks, &open_starts, counter);
        f.backwards += backwards(&acks);
        if let Some((at, _)) = fault {
            let served = acks
                .iter()
                .filter(|(_, r)| r.start >= at)
                .map(|(_, r)| r.end - at)
                .min();
            f.recovery.push(served);
        }
    }
    f
}

/// Duplicates, losses and gaps of one session's acknowledged values.
fn check_values(f: &mut Figures, acks: &[(u64, &Record)], open_starts: &[Instant], counter: u64) {
    let mut by_value: Vec<(u64, &Record)> = acks.to_vec();
    by_value.sort_by_key(|(v, _)| *v);
    let before = by_value.len();
    by_value.dedup_by_key(|(v, _)| *v);
    f.duplicated += before - by_value.len();
    let above = by_value
        .iter()
        .filter(|(v, _)| *v > counter || *v == 0)
        .count();
    f.lost += above.max(acks.len().saturating_sub(counter as usize));
    // Each missing value g in 1..=counter was written by some request after the
    // acknowledged value below it and before the one above it was answered: an open
    // request that started before then may have written it.
    let mut deadlines: Vec<Option<Instant>> = Vec::new();
    let mut next = 0;
    for g in 1..=counter {
        while next < by_value.len() && by_value[next].0 < g {
            next += 1;
        }
        if by_value.get(next).is_some_and(|(v, _)| *v == g) {
            continue;
        }
        deadlines.push(by_value.get(next).map(|(_, r)| r.end));
    }
    // Candidate sets are nested (every open request that fits an earlier deadline
    // fits a later one), so matching in order of deadline is optimal.
    deadlines.sort_by_key(|d| d.map_or((1, None), |at| (0, Some(at))));
    let mut starts = open_starts.to_vec();
    starts.sort();
    let mut used = 0;
    for deadline in deadlines {
        let fits = deadline.map_or(starts.len(), |at| starts.partition_point(|s| *s < at));
        if fits > used {
            used += 1;
            f.open_stored += 1;
        } else {
            f.unexplained += 1;
        }
    }
}

/// The `n` slowest requests: wait, outcome, node and start relative to `origin`.
fn slowest(records: &[Record], origin: Option<Instant>, n: usize) -> Vec<String> {
    let Some(origin) = origin.or_else(|| records.iter().map(|r| r.start).min()) else {
        return Vec::new();
    };
    let mut by_wait: Vec<&Record> = records.iter().collect();
    by_wait.sort_by_key(|r| std::cmp::Reverse(r.end - r.start));
    let at = |t: Instant| match t.checked_duration_since(origin) {
        Some(after) => format!("+{:.2} s", after.as_secs_f64()),
        None => format!("-{:.2} s", (origin - t).as_secs_f64()),
    };
    let describe = |r: &&Record| {
        let what = match &r.outcome {
            Outcome::Answer { status, node, .. } => {
                format!("{status} from {}", node.as_deref().unwrap_or("the router"))
            }
            other => format!("{other:?}"),
        };
        let wait = secs(r.end - r.start);
        format!(
            "{wait} ({what}, session {}, sent {})",
            r.session,
            at(r.start)
        )
    };
    by_wait.iter().take(n).map(describe).collect()
}

/// How many acknowledged values are not above every value acknowledged before their
/// request started.
fn backwards(acks: &[(u64, &Record)]) -> usize {
    let mut by_end: Vec<(Instant, u64)> = acks.iter().map(|(v, r)| (r.end, *v)).collect();
    by_end.sort();
    let mut highest = Vec::with_capacity(by_end.len());
    let mut max = 0;
    for (_, v) in &by_end {
        max = max.max(*v);
        highest.push(max);
    }
    acks.iter()
        .filter(|(v, r)| {
            let done = by_end.partition_point(|(end, _)| *end < r.start);
            done > 0 && highest[done - 1] >= *v
        })
        .count()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl Figures {
    /// The p99 (nearest rank) and the maximum of the recovery times, if every
    /// session recovered.
    pub fn recovery_p99(&self) -> Option<(Duration, Duration)> {
        let mut times: Vec<Duration> = self.recovery.iter().copied().collect::<Option<_>>()?;
        times.sort();
        let rank = (times.len() as f64 * 0.99).ceil() as usize;
        Some((*times.get(rank.checked_sub(1)?)?, *times.last()?))
    }

    /// The figures on one line.
    pub fn line(&self) -> String {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let recovery = match (self.recovery.is_empty(), self.recovery_p99()) {
            (true, _) => "no recovery measured".to_string(),
            (false, Some((p99, max))) => format!(
                "recovery p99 {} (max {}, from {})",
                secs(p99),
                secs(max),
                self.recovery_from
            ),
            (false, None) => "recovery: some session was never served again".to_string(),
        };
        format!(
            "fault figures: {}: acknowledged {}, lost {}, duplicated {}, backwards {}, open {} ({} stored), unexplained {}; statuses {}; {}; max wait {} (bound {})",
            self.scenario,
            self.acknowledged,
            self.lost,
            self.duplicated,
            self.backwards,
            self.open,
            self.open_stored,
            self.unexplained,
            statuses.join(", "),
            recovery,
            secs(self.max_wait),
            secs(self.bound),
        )
    }

    /// Prints [`Figures::line`] (shown with `cargo test -- --nocapture`).
    pub fn print(&self) {
        println!("{}", self.line());
        println!("  slowest: {}", self.slowest.join("; "));
    }

    /// Panics, with the figures, unless the history is clean.
    pub fn assert_clean(&self) {
        let mut broken = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                broken.push(format!("{n} {what}"));
            }
        };
        count(self.lost, "acknowledged increments lost");
        count(self.duplicated, "values given twice");
        count(self.backwards, "values that went backwards");
        count(
            self.unexplained,
            "stored increments no answer accounts for (a 503 that stored?)",
        );
        count(self.unstored, "sessions not in the store");
        let unexpected = self.statuses.iter().filter(|(s, _)| {
            !s.starts_with('2') && !matches!(s.as_str(), "502" | "503" | "504" | "failed")
        });
        count(
            unexpected.map(|(_, n)| n).sum(),
            "answers with a status the check does not allow (500, 4xx, timeout)",
        );
        count(
            usize::from(self.max_wait > self.bound),
            "request waited past the bound",
        );
        count(
            usize::from(!self.recovery.is_empty() && self.recovery_p99().is_none()),
            "scenario in which a session was not served again",
        );
        assert!(
            broken.is_empty(),
            "{}: {}\n{}\nfirst answers not allowed: {:#?}",
            self.scenario,
            broken.join("; "),
            self.line(),
            self.refused
        );
    }
}
