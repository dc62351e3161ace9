//! CPU time of the harness process and of the PostgreSQL server, for CPU per request.
//!
//! Throughput on a shared 2-core machine moves with whatever else runs; the CPU a
//! request costs (the harness process, which holds the client and every app node,
//! plus the store's server) moves much less, so the report shows both. Redis reports
//! its own (`INFO cpu`); PostgreSQL runs a process per connection, read from `/proc`.

/// User plus system CPU time of this process (all its threads) so far, in µs; 0 where
/// `/proc/self/stat` cannot be read.
pub(crate) fn process_micros() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| parse_stat(&stat))
        .unwrap_or(0)
}

/// User plus system CPU time of every PostgreSQL server process on this machine so
/// far, in µs, with that of the backends that have exited: the postmaster reaps them,
/// so their time is in its children's fields (cutime, cstime).
pub(crate) fn postgres_micros() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .filter_map(|stat| parse_stat_with_children(&stat))
        .sum()
}

/// Fields 14 and 15 of `/proc/<pid>/stat` (utime, stime), in clock ticks of
/// `USER_HZ`, which the kernel fixes at 100 per second for this interface.
fn parse_stat(stat: &str) -> Option<u64> {
    let f = fields(stat)?;
    Some((f.get(11)? + f.get(12)?) * 10_000)
}

/// utime + stime + cutime + cstime (fields 14 to 17), in µs.
fn parse_stat_with_children(stat: &str) -> Option<u64> {
    let f = fields(stat)?;
    Some((f.get(11)? + f.get(12)? + f.get(13)? + f.get(14)?) * 10_000)
}

/// Fields 3 to 17, as numbers where they are non-negative ones (the state, field 3,
/// is a letter, and some fields may be -1: 0 in their place keeps the indices).
fn fields(stat: &str) -> Option<Vec<u64>> {
    // The command name (field 2) is in parentheses and may hold spaces: count the
    // fields after its closing one.
    let rest = &stat[stat.rfind(')')? + 1..];
    let out: Vec<u64> = rest
        .split_whitespace()
        .take(15)
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    (out.len() == 15).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{parse_stat, parse_stat_with_children};

    #[test]
    fn utime_and_stime_are_read_after_the_command_name() {
        let stat = "4242 (tenure bench) R 1 2 3 4 -1 6 7 8 9 10 250 50 7 3 20 0 9 0";
        assert_eq!(parse_stat(stat), Some(300 * 10_000));
        assert_eq!(parse_stat_with_children(stat), Some(310 * 10_000));
        assert_eq!(parse_stat("garbage"), None);
    }
}
