//! Server-side counters (`INFO commandstats`, `INFO stats`), summed over every
//! primary: how many commands and bytes a workload cost Redis.

use std::collections::BTreeMap;
use std::ops::Sub;

use fred::interfaces::{ClientLike, ClusterInterface};
use fred::types::InfoKind;
use tenure_store::StoreError;

use crate::connection::RedisStore;
use crate::reply::client_error;

/// Commands a client sends itself; every other command counted was run by a script.
const CLIENT_COMMANDS: &[&str] = &[
    "evalsha",
    "eval",
    "script|load",
    "spublish",
    "publish",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "unsubscribe",
];

/// Commands that measuring or connecting costs, left out of every count here.
const HOUSEKEEPING: &[&str] = &[
    "info",
    "ping",
    "client|setname",
    "client|id",
    "client|kill",
    "client|list",
    "cluster|slots",
    "cluster|nodes",
    "cluster|info",
    "cluster|shards",
    "command",
    "hello",
    "select",
    "auth",
    "scan",
    "quit",
];

/// Counters read from the servers at one moment; subtract two to get a workload's cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Calls per command name (`cmdstat_<name>:calls`), including commands run inside
    /// scripts, without housekeeping (`INFO`, `PING`, `CLIENT`, `CLUSTER`, `SCAN`...).
    pub commands: BTreeMap<String, u64>,
    /// Bytes the servers received (`total_net_input_bytes`).
    pub net_input_bytes: u64,
    /// Bytes the servers sent (`total_net_output_bytes`).
    pub net_output_bytes: u64,
    /// CPU time the servers used, user and system, in µs (`used_cpu_user` plus
    /// `used_cpu_sys`).
    pub cpu_micros: u64,
}

impl ServerStats {
    /// Commands clients sent (script calls, publishes, subscriptions): round trips.
    pub fn client_commands(&self) -> u64 {
        self.commands
            .iter()
            .filter(|(name, _)| CLIENT_COMMANDS.contains(&name.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Commands run inside scripts.
    pub fn script_commands(&self) -> u64 {
        self.all_commands() - self.client_commands()
    }

    /// Every command counted.
    pub fn all_commands(&self) -> u64 {
        self.commands.values().sum()
    }

    /// Bytes both ways.
    pub fn net_bytes(&self) -> u64 {
        self.net_input_bytes + self.net_output_bytes
    }

    fn absorb(&mut self, info: &str) {
        for line in info.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                let Some((name, fields)) = rest.split_once(':') else {
                    continue;
                };
                if HOUSEKEEPING.contains(&name) {
                    continue;
                }
                let calls = fields
                    .split(',')
                    .find_map(|f| f.strip_prefix("calls="))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                *self.commands.entry(name.to_string()).or_default() += calls;
            } else if let Some(n) = line.strip_prefix("total_net_input_bytes:") {
                self.net_input_bytes += n.parse::<u64>().unwrap_or(0);
            } else if let Some(n) = line.strip_prefix("total_net_output_bytes:") {
                self.net_output_bytes += n.parse::<u64>().unwrap_or(0);
            } else if let Some(s) = line
                .strip_prefix("used_cpu_user:")
                .or_else(|| line.strip_prefix("used_cpu_sys:"))
            {
                // Seconds with six decimals.
                self.cpu_micros += (s.parse::<f64>().unwrap_or(0.0) * 1e6).round() as u64;
            }
        }
    }
}

impl Sub for &ServerStats {
    type Output = ServerStats;

    fn sub(self, before: &ServerStats) -> ServerStats {
        let commands = self
            .commands
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.saturating_sub(before.commands.get(k).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        ServerStats {
            commands,
            net_input_bytes: self.net_input_bytes.saturating_sub(before.net_input_bytes),
            net_output_bytes: self
                .net_output_bytes
                .saturating_sub(before.net_output_bytes),
            cpu_micros: self.cpu_micros.saturating_sub(before.cpu_micros),
        }
    }
}

impl RedisStore {
    /// Reads `INFO stats`, `INFO commandstats` and `INFO cpu` from every primary and
    /// sums them.
    /// The counters are server-wide: other clients of the same servers count too.
    pub async fn server_stats(&self) -> Result<ServerStats, StoreError> {
        let client = self.client();
        let mut stats = ServerStats::default();
        let mut read = |text: String| stats.absorb(&text);
        if client.is_clustered() {
            let primaries = client
                .cached_cluster_state()
                .map(|s| s.unique_primary_nodes())
                .unwrap_or_default();
            for server in primaries {
                let node = client.with_cluster_node(server);
                read(
                    node.info::<String>(Some(InfoKind::Stats))
                        .await
                        .map_err(client_error)?,
                );
                read(
                    node.info::<String>(Some(InfoKind::CommandStats))
                        .await
                        .map_err(client_error)?,
                );
                read(
                    node.info::<String>(Some(InfoKind::Cpu))
                        .await
                        .map_err(client_error)?,
                );
            }
        } else {
            read(
                client
                    .info::<String>(Some(InfoKind::Stats))
                    .await
                    .map_err(client_error)?,
            );
            read(
                client
                    .info::<String>(Some(InfoKind::CommandStats))
                    .await
                    .map_err(client_error)?,
            );
            read(
                client
                    .info::<String>(Some(InfoKind::Cpu))
                    .await
                    .map_err(client_error)?,
            );
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_summed_and_subtracted() {
        let mut a = ServerStats::default();
        a.absorb("# Stats\r\ntotal_net_input_bytes:100\r\ntotal_net_output_bytes:50\r\n");
        a.absorb("cmdstat_evalsha:calls=3,usec=10\r\ncmdstat_hset:calls=6,usec=1\r\ncmdstat_info:calls=9\r\n");
        let mut b = a.clone();
        b.absorb("total_net_input_bytes:10\r\ncmdstat_evalsha:calls=2\r\n");
        let d = &b - &a;
        assert_eq!(d.client_commands(), 2);
        assert_eq!(d.script_commands(), 0);
        assert_eq!(d.net_input_bytes, 10);
        assert_eq!(a.all_commands(), 9, "INFO itself is not counted");
        assert_eq!(a.script_commands(), 6);
        a.absorb("# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.000001\r\n");
        assert_eq!(a.cpu_micros, 3_250_001);
    }
}
