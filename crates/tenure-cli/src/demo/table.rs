//! The summary table: one column per run (consistency mode), one row per figure.
//! A figure a mode never produces shows as `—`, not as a zero.

use std::collections::BTreeSet;
use std::fmt;

use tenure_test::CallCounts;

use super::report::{Counter, Report};

/// What an absent figure shows.
const NONE: &str = "—";

/// The summary of one or more runs of the same workload, side by side.
#[derive(Debug)]
pub struct Summary<'a>(pub &'a [Report]);

#[derive(Default)]
struct Table {
    columns: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
}

impl Table {
    fn row(&mut self, label: impl Into<String>, cells: Vec<String>) {
        self.rows.push((label.into(), cells));
    }

    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = |s: &str| s.chars().count();
        let label_width = self.rows.iter().map(|(l, _)| width(l)).max().unwrap_or(0);
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|(_, cells)| cells.get(c))
                    .chain(std::iter::once(&self.columns[c]))
                    .map(|s| width(s))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, label: &str, cells: &[String]| {
            let mut out = format!("  {label}{}", " ".repeat(label_width - width(label)));
            for (cell, w) in cells.iter().zip(&widths) {
                out.push_str("   ");
                out.push_str(cell);
                out.push_str(&" ".repeat(w - width(cell)));
            }
            writeln!(f, "{}", out.trim_end())
        };
        line(f, "", &self.columns)?;
        for (label, cells) in &self.rows {
            line(f, label, cells)?;
        }
        Ok(())
    }
}

fn count_or_none(n: u64) -> String {
    if n == 0 {
        NONE.into()
    } else {
        n.to_string()
    }
}

fn lost_cell(r: &Report) -> String {
    match r.lost() {
        0 => "0 lost".into(),
        n => format!("{n} lost, {:.1} %", r.lost_percent()),
    }
}

/// The store methods, with the summary's names.
const STORE_CALLS: [(&str, fn(&CallCounts) -> u64); 9] = [
    ("acquire", |c| c.acquire),
    ("renew", |c| c.renew),
    ("load", |c| c.load),
    ("commit (holder)", |c| c.commit),
    ("commit (unlocked)", |c| c.commit_optimistic),
    ("create", |c| c.create),
    ("delete", |c| c.delete),
    ("rotate id", |c| c.rotate_id),
    ("hints", |c| c.hints),
];

impl Summary<'_> {
    fn header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.0.first() else {
            return writeln!(f, "Tenure demo: nothing ran");
        };
        let s = &first.setup;
        let plan = &s.plan;
        let in_flight = if plan.users > 0 && plan.concurrency >= plan.users {
            let tabs = plan.concurrency / plan.users;
            let extra = plan.concurrency % plan.users;
            let more = if extra > 0 { "+" } else { "" };
            format!("{} users × {tabs}{more} tabs", plan.users)
        } else {
            format!("{} users", plan.users)
        };
        writeln!(
            f,
            "Tenure demo: {} nodes on the {} store, policy {}, affinity {:.2}, {in_flight} \
             ({} requests in flight), no delays",
            s.nodes, s.store, s.policy, s.affinity, plan.concurrency
        )
    }

    fn table(&self) -> Table {
        let runs = self.0;
        let all = |f: &dyn Fn(&Report) -> String| runs.iter().map(f).collect::<Vec<_>>();
        let mut t = Table {
            columns: all(&|r| format!("{:?}", r.mode())),
            ..Table::default()
        };
        if runs.iter().any(|r| r.setup.policy != runs[0].setup.policy) {
            t.row("write policy", all(&|r| r.setup.policy.to_string()));
        }
        t.row("requests", all(&|r| r.outcome.requests.to_string()));
        t.row(
            "wall time",
            all(&|r| format!("{:.2} s", r.outcome.elapsed.as_secs_f64())),
        );
        t.row(
            "requests/s",
            all(&|r| format!("{:.0}", r.requests_per_second())),
        );

        t.row("responses", all(&|_| String::new()));
        let statuses: BTreeSet<u16> = runs
            .iter()
            .flat_map(|r| r.outcome.statuses.keys().copied())
            .collect();
        for status in statuses {
            let reasons: BTreeSet<&String> = runs
                .iter()
                .filter_map(|r| r.outcome.reasons.get(&status))
                .flat_map(|m| m.keys())
                .collect();
            if reasons.is_empty() {
                let label = match status {
                    0 => "  no reply".to_string(),
                    s => format!("  {s}"),
                };
                t.row(label, all(&|r| count_or_none(r.responses(status))));
            }
            for reason in reasons {
                let count = |r: &Report| {
                    let n = r.outcome.reasons.get(&status).and_then(|m| m.get(reason));
                    count_or_none(n.copied().unwrap_or(0))
                };
                t.row(format!("  {status} {reason}"), all(&count));
            }
        }

        t.row("served by", all(&|_| String::new()));
        let nodes: BTreeSet<&String> = runs
            .iter()
            .flat_map(|r| r.outcome.per_node.keys())
            .collect();
        for node in nodes {
            let served =
                |r: &Report| count_or_none(r.outcome.per_node.get(node).copied().unwrap_or(0));
            t.row(format!("  {node}"), all(&served));
        }

        t.row("increments", all(&|_| String::new()));
        t.row("  acknowledged", all(&|r| r.acknowledged().to_string()));
        t.row(
            "  in the final counters",
            all(&|r| r.outcome.totals().1.to_string()),
        );
        t.row("  lost", all(&lost_cell));
        if runs.iter().any(|r| r.outcome.unacknowledged_stored() > 0) {
            t.row(
                "  stored, unacknowledged",
                all(&|r| r.outcome.unacknowledged_stored().to_string()),
            );
        }
        if runs.iter().any(|r| r.outcome.unknown() > 0) {
            t.row(
                "  users unreadable (left out)",
                all(&|r| r.outcome.unknown().to_string()),
            );
        }
        if runs.iter().any(|r| r.stored_after_shutdown.is_some()) {
            t.row(
                "  in the store after shutdown",
                all(&|r| {
                    r.stored_after_shutdown
                        .map_or(NONE.into(), |n| n.to_string())
                }),
            );
        }

        t.row(
            "store calls per request",
            all(&|r| format!("{:.2}", r.store_calls_per_request())),
        );
        for (name, calls) in STORE_CALLS {
            if runs.iter().any(|r| calls(&r.store_calls) > 0) {
                t.row(
                    format!("  {name}"),
                    all(&|r| count_or_none(calls(&r.store_calls))),
                );
            }
        }
        t.row(
            "bytes committed per request",
            all(&|r| format!("{:.1}", r.bytes_per_request())),
        );
        if runs.iter().any(|r| r.redis.is_some()) {
            let requests = |r: &Report| r.outcome.requests.max(1) as f64;
            t.row(
                "redis commands per request",
                all(&|r| {
                    r.redis.as_ref().map_or(NONE.into(), |s| {
                        format!(
                            "{:.3} ({:.2} in scripts)",
                            s.client_commands() as f64 / requests(r),
                            s.script_commands() as f64 / requests(r)
                        )
                    })
                }),
            );
            t.row(
                "redis bytes per request",
                all(&|r| {
                    r.redis.as_ref().map_or(NONE.into(), |s| {
                        format!(
                            "{:.0} ({:.0} in, {:.0} out)",
                            s.net_bytes() as f64 / requests(r),
                            s.net_input_bytes as f64 / requests(r),
                            s.net_output_bytes as f64 / requests(r)
                        )
                    })
                }),
            );
        }

        for counter in Counter::ALL {
            let values: Vec<Option<u64>> = runs.iter().map(|r| r.counter(counter)).collect();
            let shown = if counter.only_if_nonzero() {
                values.iter().any(|v| v.is_some_and(|n| n > 0))
            } else {
                values.iter().any(Option::is_some)
            };
            if shown {
                let cells = values
                    .iter()
                    .map(|v| v.map_or(NONE.into(), |n| n.to_string()))
                    .collect();
                t.row(counter.label(), cells);
            }
        }
        t
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.header(f)?;
        self.table().render(f)
    }
}
