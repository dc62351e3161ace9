//! The workloads, and the quick and full profiles that size them.

use std::time::Duration;

use serde::Serialize;

/// How long each system runs each workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// 2 s per system and workload (1 s per sweep point): the whole run, sweep and
    /// cluster included, in about 3 minutes.
    Quick,
    /// 15 s per system and workload (2 s per sweep point): the whole run in about 21
    /// minutes.
    Full,
}

impl Profile {
    /// Load time per system and workload.
    pub fn duration(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_secs(2),
            Profile::Full => Duration::from_secs(15),
        }
    }

    /// Load time per system and point of the affinity sweep: shorter, since it
    /// runs every system four times.
    pub fn sweep_duration(self) -> Duration {
        match self {
            Profile::Quick => Duration::from_secs(1),
            Profile::Full => Duration::from_secs(2),
        }
    }
}

/// Relative weights of the requests a workload sends.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Mix {
    /// `GET /counter`
    pub read: u32,
    /// `POST /counter`
    pub increment: u32,
    /// `POST /cart`
    pub cart: u32,
    /// `POST /note` (a 10-byte change)
    pub note: u32,
    /// `POST /items/set` (one item's quantity in the large cart)
    pub quantity: u32,
    /// `POST /items/replace` (one item of the large cart replaced)
    pub replace: u32,
}

impl Mix {
    /// The request for a number in `0..self.total()`.
    pub fn pick(&self, n: u32) -> Op {
        if n < self.read {
            Op::Read
        } else if n < self.read + self.increment {
            Op::Increment
        } else if n < self.read + self.increment + self.cart {
            Op::Cart
        } else if n < self.read + self.increment + self.cart + self.note {
            Op::Note
        } else if n < self.total() - self.replace {
            Op::Quantity
        } else {
            Op::Replace
        }
    }

    /// Sum of the weights.
    pub fn total(&self) -> u32 {
        self.read + self.increment + self.cart + self.note + self.quantity + self.replace
    }

    /// `60 % read, 30 % increment, ...`
    pub fn describe(&self) -> String {
        let total = self.total().max(1) as f64;
        [
            ("read", self.read),
            ("increment", self.increment),
            ("cart add", self.cart),
            ("10-byte note", self.note),
            ("one item's quantity", self.quantity),
            ("one item replaced", self.replace),
        ]
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(name, w)| format!("{:.0} % {name}", *w as f64 * 100.0 / total))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// One request of the app ([`crate::app`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /counter`
    Read,
    /// `POST /counter`
    Increment,
    /// `POST /cart?item=...`
    Cart,
    /// `POST /note?v=...`
    Note,
    /// `POST /blob?size=...`
    Blob,
    /// `POST /items/fill?n=...`
    Fill,
    /// `POST /items/set?i=...&q=...`
    Quantity,
    /// `POST /items/replace?i=...&sku=...`
    Replace,
}

/// A load shape.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// `a` to `f`.
    pub id: &'static str,
    /// What it is about.
    pub title: &'static str,
    /// Sessions in use at once.
    pub sessions: usize,
    /// Requests in flight on each session.
    pub in_flight: usize,
    /// Requests per session before the client moves to a new one; `None`: one session
    /// per slot for the whole run.
    pub requests_per_session: Option<u64>,
    /// The requests after the first (which creates the session).
    pub mix: Mix,
    /// Probability that a request goes to the node that served the session's
    /// previous request.
    pub affinity: f64,
    /// Filler stored in each session at creation, bytes (0: none).
    pub blob: usize,
    /// Items of the large cart stored in each session at creation (0: none).
    pub cart_items: usize,
    /// Load time.
    #[serde(skip)]
    pub duration: Duration,
}

const HOT_MIX: Mix = Mix {
    read: 60,
    increment: 30,
    cart: 10,
    note: 0,
    quantity: 0,
    replace: 0,
};

/// The workload of structural comparison: its id.
pub const LARGE_CART_WORKLOAD: &str = "f";

/// The six workloads of the report, sized by `profile`.
pub fn all(profile: Profile) -> Vec<Workload> {
    let duration = profile.duration();
    vec![
        Workload {
            id: "a",
            title: "hot sessions, affinity 0.9",
            sessions: 32,
            in_flight: 2,
            requests_per_session: None,
            mix: HOT_MIX,
            affinity: 0.9,
            blob: 0,
            cart_items: 0,
            duration,
        },
        Workload {
            id: "b",
            title: "hot sessions, affinity 0",
            sessions: 32,
            in_flight: 2,
            requests_per_session: None,
            mix: HOT_MIX,
            affinity: 0.0,
            blob: 0,
            cart_items: 0,
            duration,
        },
        Workload {
            id: "c",
            title: "100 KB session, 10-byte change per request, affinity 0.9",
            sessions: 8,
            in_flight: 1,
            requests_per_session: None,
            mix: Mix {
                read: 0,
                increment: 0,
                cart: 0,
                note: 1,
                quantity: 0,
                replace: 0,
            },
            affinity: 0.9,
            blob: 100 * 1024,
            cart_items: 0,
            duration,
        },
        Workload {
            id: "d",
            title: "20 concurrent requests on one session, affinity 0.9",
            sessions: 1,
            in_flight: 20,
            requests_per_session: None,
            mix: Mix {
                read: 30,
                increment: 70,
                cart: 0,
                note: 0,
                quantity: 0,
                replace: 0,
            },
            affinity: 0.9,
            blob: 0,
            cart_items: 0,
            duration,
        },
        Workload {
            id: "e",
            title: "many sessions, 3 requests each, affinity 0.9",
            sessions: 64,
            in_flight: 1,
            requests_per_session: Some(3),
            mix: HOT_MIX,
            affinity: 0.9,
            blob: 0,
            cart_items: 0,
            duration,
        },
        Workload {
            id: LARGE_CART_WORKLOAD,
            title: "one session with a 500-item cart, one item changed per request, affinity 0.9",
            sessions: 1,
            in_flight: 1,
            requests_per_session: None,
            mix: Mix {
                read: 0,
                increment: 0,
                cart: 0,
                note: 0,
                quantity: 90,
                replace: 10,
            },
            affinity: 0.9,
            blob: 0,
            cart_items: 500,
            duration,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_picks_by_weight() {
        let ops: Vec<Op> = (0..HOT_MIX.total()).map(|n| HOT_MIX.pick(n)).collect();
        assert_eq!(ops.iter().filter(|o| **o == Op::Read).count(), 60);
        assert_eq!(ops.iter().filter(|o| **o == Op::Increment).count(), 30);
        assert_eq!(ops.iter().filter(|o| **o == Op::Cart).count(), 10);
        assert_eq!(
            HOT_MIX.describe(),
            "60 % read, 30 % increment, 10 % cart add"
        );
    }

    /// Seconds of load of a whole run: every system of a part on its workloads, the
    /// sweep (a system with a fixed affinity once), the cluster workloads and the
    /// PostgreSQL part.
    fn load_seconds(profile: Profile) -> u64 {
        use crate::Part;
        let count =
            |part: Part| crate::System::ALL.iter().filter(|s| part.runs(**s)).count() as u64;
        let on_postgres = count(Part::Postgres);
        let main_of = |w: &str| {
            crate::System::ALL
                .iter()
                .filter(|s| Part::Main.runs(**s) && s.runs_workload(w))
                .count() as u64
        };
        let systems = main_of(crate::SWEEP_WORKLOAD);
        let fixed = crate::System::ALL
            .iter()
            .filter(|s| Part::Sweep.runs(**s) && s.fixed_affinity().is_some())
            .count() as u64;
        let load = profile.duration().as_secs();
        let main: u64 = all(profile).iter().map(|w| main_of(w.id) * load).sum();
        let points = crate::SWEEP_AFFINITIES.len() as u64;
        let sweep = ((systems - fixed) * points + fixed) * profile.sweep_duration().as_secs();
        let cluster = crate::CLUSTER_WORKLOADS.len() as u64 * systems * load;
        let postgres = crate::POSTGRES_WORKLOADS.len() as u64 * on_postgres * load;
        main + sweep + cluster + postgres
    }

    #[test]
    fn the_profiles_fit_their_budgets() {
        // Plus start, stop and audit: about 20 s in all on the quick profile, a few
        // seconds per run on the full one (the full run of 9 systems on Redis took
        // 1,046 s, the PostgreSQL part alone 137 s; with workload (f), 1,269 s in all).
        assert!(load_seconds(Profile::Quick) < 200);
        assert!(load_seconds(Profile::Full) < 21 * 60);
    }
}
