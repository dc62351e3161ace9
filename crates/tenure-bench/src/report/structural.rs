//! Workload (f)'s targets: structural comparison against binary comparison and
//! against tower-sessions, from the same run.

use std::fmt::Write as _;

use super::targets::Verdict;
use super::*;
use crate::workload::LARGE_CART_WORKLOAD;

/// One target of workload (f): what, the bound, and the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuralTarget {
    /// The figure compared.
    pub figure: &'static str,
    /// The bound.
    pub target: &'static str,
    /// This run's outcome.
    pub verdict: Verdict,
}

/// The targets of workload (f), if it ran with structural comparison.
pub fn structural_targets(r: &RunReport) -> Vec<StructuralTarget> {
    let ms = &r.measurements;
    let w = LARGE_CART_WORKLOAD;
    let Some(structural) = find(ms, w, System::TenureStructural) else {
        return Vec::new();
    };
    let binary = find(ms, w, System::TenureDefault);
    let tower = find(ms, w, BASELINE);
    let fraction = |of: Option<&Measurement>, bound: f64, who: &str| match of {
        None => Verdict::NotRun(format!("{who} not run")),
        Some(_) if structural.bytes_per_request <= 0.0 => Verdict::Met("0 B".into()),
        Some(m) => {
            let x = m.bytes_per_request / structural.bytes_per_request;
            Verdict::check(
                x >= bound,
                format!(
                    "1/{x:.0}: {} against {}",
                    bytes(structural.bytes_per_request),
                    bytes(m.bytes_per_request)
                ),
            )
        }
    };
    let throughput = match binary {
        None => Verdict::NotRun("binary comparison not run".into()),
        Some(b) => {
            let x = structural.throughput / b.throughput.max(1e-9);
            Verdict::check(
                x >= 1.0,
                format!("{x:.2}×: {} against {}", req_s(structural), req_s(b)),
            )
        }
    };
    vec![
        StructuralTarget {
            figure: "(f) bytes per request, against binary comparison (the default row)",
            target: "≤ 1/50",
            verdict: fraction(binary, 50.0, "binary comparison"),
        },
        StructuralTarget {
            figure: "(f) bytes per request, against tower-sessions",
            target: "≤ 1/200",
            verdict: fraction(tower, 200.0, "tower-sessions"),
        },
        StructuralTarget {
            figure: "(f) throughput, against binary comparison",
            target: "≥ 1.0 ×",
            verdict: throughput,
        },
    ]
}

/// The table of [`structural_targets`], if any.
pub(super) fn structural_table(r: &RunReport, out: &mut String) {
    let rows = structural_targets(r);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Structural comparison (`{}`) on workload ({LARGE_CART_WORKLOAD}):\n",
        System::TenureStructural.slug()
    );
    let _ = writeln!(out, "| figure | target | this run |");
    let _ = writeln!(out, "|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            row.figure,
            row.target,
            row.verdict.cell()
        );
    }
    out.push('\n');
}
