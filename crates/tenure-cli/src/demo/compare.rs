//! The same workload once per consistency mode, each run on a store of its own, for
//! the side-by-side summary.

use tenure_core::{Consistency, WritePolicy};

use super::{Demo, DemoError, Report, Setup};

/// The modes `tenure demo` compares unless `--mode` picks one: the cached tenure,
/// and what other session libraries do.
pub const DEFAULT_MODES: [Consistency; 2] = [Consistency::Exclusive, Consistency::LastWriterWins];

/// The key prefix of `mode`'s run when several modes share one Redis: `prefix`
/// followed by the mode's name, so the runs never see each other's sessions.
pub fn mode_prefix(prefix: &str, mode: Consistency) -> String {
    let name = match mode {
        Consistency::Exclusive => "exclusive",
        Consistency::Optimistic => "optimistic",
        Consistency::LastWriterWins => "lww",
    };
    format!("{prefix}-{name}")
}

/// Runs `setup`'s workload once per mode in `modes`, one run after the other, each on
/// its own nodes and servers and on a fresh store: a new embedded store, or, on
/// Redis, its own key prefix ([`mode_prefix`]) when there are several modes. Each
/// run is shut down (its counters read back from the store) before the next starts.
/// A write-behind policy applies to the exclusive run only when several modes run:
/// the others, which hold no copy between requests, write at the end of each request.
/// Answers the reports in `modes`' order; `on_start` hears of each run as it starts.
pub async fn compare(
    setup: &Setup,
    modes: &[Consistency],
    mut on_start: impl FnMut(&Demo),
) -> Result<Vec<Report>, DemoError> {
    let mut reports = Vec::new();
    for &mode in modes {
        let mut run = setup.clone();
        run.mode = mode;
        if modes.len() > 1 {
            run.prefix = mode_prefix(&setup.prefix, mode);
            if mode != Consistency::Exclusive {
                run.policy = WritePolicy::end_of_request();
            }
        }
        let demo = Demo::start(run).await?;
        on_start(&demo);
        let mut report = demo.run_workload().await;
        demo.shutdown(&mut report).await;
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_has_its_own_prefix() {
        let prefixes: std::collections::BTreeSet<String> = [
            Consistency::Exclusive,
            Consistency::Optimistic,
            Consistency::LastWriterWins,
        ]
        .into_iter()
        .map(|m| mode_prefix("tenure-demo-1", m))
        .collect();
        assert_eq!(prefixes.len(), 3);
        assert!(prefixes.contains("tenure-demo-1-lww"));
    }
}
