//! CPU time of the harness process, for CPU per request.
//!
//! Throughput on a shared 2-core machine moves with whatever else runs; the CPU a
//! request costs (the harness process, which holds the client and every app node,
//! plus Redis) moves much less, so the report shows both.

/// User plus system CPU time of this process (all its threads) so far, in µs; 0 where
/// `/proc/self/stat` cannot be read.
pub(crate) fn process_micros() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| parse_stat(&stat))
        .unwrap_or(0)
}

/// Fields 14 and 15 of `/proc/<pid>/stat` (utime, stime), in clock ticks of
/// `USER_HZ`, which the kernel fixes at 100 per second for this interface.
fn parse_stat(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces: count the
    // fields after its closing one.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3; utime is field 14.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10_000)
}

#[cfg(test)]
mod tests {
    use super::parse_stat;

    #[test]
    fn utime_and_stime_are_read_after_the_command_name() {
        let stat = "4242 (tenure bench) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0";
        assert_eq!(parse_stat(stat), Some(300 * 10_000));
        assert_eq!(parse_stat("garbage"), None);
    }
}
