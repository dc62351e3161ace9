//! The Lua scripts, one per protocol step, each run atomically by `EVALSHA`, and the
//! key set each one takes. A script's `KEYS` can only be built through its key set
//! type, so no call can hand a script the wrong keys; a test checks each type against
//! the `KEYS:` line at the top of its script.

use std::marker::PhantomData;

use fred::clients::Client;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, Value};
use tenure_store::StoreError;

use crate::keys::SessionKeys;
use crate::reply::{client_error, Reply};

/// The `KEYS` of one kind of script call, in the order the script reads them.
pub(crate) trait KeySet {
    /// The layout as the script's header writes it (`-- KEYS: <layout>.`); only the
    /// test that holds each script to its key set reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    const LAYOUT: &'static str;

    /// The keys, in order.
    fn into_keys(self) -> Vec<String>;
}

/// `KEYS` = the meta key of one session (the scripts derive its other keys), or on a
/// cluster its five fixed keys and the slot key ([`SessionKeys`]).
#[derive(Debug)]
pub(crate) struct DataKeys(Vec<String>);

impl DataKeys {
    pub(crate) fn of(keys: &SessionKeys) -> Self {
        Self(keys.script_keys().collect())
    }
}

impl KeySet for DataKeys {
    const LAYOUT: &'static str = "m, or on a cluster m a v o f x";

    fn into_keys(self) -> Vec<String> {
        self.0
    }
}

/// `KEYS` = the keys of each session in a renewal or release batch as [`DataKeys`]
/// has them, all in one cluster slot.
#[derive(Debug)]
pub(crate) struct BatchKeys(Vec<String>);

impl BatchKeys {
    pub(crate) fn with_capacity(sessions: usize) -> Self {
        Self(Vec::with_capacity(sessions))
    }

    pub(crate) fn push(&mut self, keys: &SessionKeys) {
        self.0.extend(keys.script_keys());
    }
}

impl KeySet for BatchKeys {
    const LAYOUT: &'static str = "per session m, or on a cluster m a v o f x";

    fn into_keys(self) -> Vec<String> {
        self.0
    }
}

/// `KEYS` = one principal's index key ([`principal_index`](crate::keys::principal_index)),
/// or on a cluster its shard of one slot ([`index_shard`](crate::keys::index_shard)).
#[derive(Debug)]
pub(crate) struct IndexKeys(pub(crate) String);

impl KeySet for IndexKeys {
    const LAYOUT: &'static str = "i";

    fn into_keys(self) -> Vec<String> {
        vec![self.0]
    }
}

/// `KEYS` = one principal's directory ([`directory`](crate::keys::directory)).
#[derive(Debug)]
pub(crate) struct DirectoryKeys(pub(crate) String);

impl KeySet for DirectoryKeys {
    const LAYOUT: &'static str = "d";

    fn into_keys(self) -> Vec<String> {
        vec![self.0]
    }
}

/// `KEYS` = one principal's shard of a slot and that slot's key
/// ([`slot_key`](crate::keys::slot_key)).
#[derive(Debug)]
pub(crate) struct ShardKeys {
    pub(crate) shard: String,
    pub(crate) slot: String,
}

impl KeySet for ShardKeys {
    const LAYOUT: &'static str = "i x";

    fn into_keys(self) -> Vec<String> {
        vec![self.shard, self.slot]
    }
}

/// `KEYS` = one slot's key ([`slot_key`](crate::keys::slot_key)).
#[derive(Debug)]
pub(crate) struct SlotKeys(pub(crate) String);

impl KeySet for SlotKeys {
    const LAYOUT: &'static str = "x";

    fn into_keys(self) -> Vec<String> {
        vec![self.0]
    }
}

/// `KEYS` = a cluster's event log and its moved cursor
/// ([`ClusterLog`](crate::keys::ClusterLog); `move.lua`).
#[derive(Debug)]
pub(crate) struct MoveKeys(pub(crate) String, pub(crate) String);

impl KeySet for MoveKeys {
    const LAYOUT: &'static str = "s c";

    fn into_keys(self) -> Vec<String> {
        vec![self.0, self.1]
    }
}

/// `KEYS` = a cluster's pending and due slot sets
/// ([`ClusterLog`](crate::keys::ClusterLog); `schedule.lua`, `take.lua`).
#[derive(Debug)]
pub(crate) struct ScheduleKeys(pub(crate) String, pub(crate) String);

impl KeySet for ScheduleKeys {
    const LAYOUT: &'static str = "p d";

    fn into_keys(self) -> Vec<String> {
        vec![self.0, self.1]
    }
}

/// `KEYS` = one slot's outbox ([`outbox`](crate::keys::outbox)).
#[derive(Debug)]
pub(crate) struct OutboxKeys(pub(crate) String);

impl KeySet for OutboxKeys {
    const LAYOUT: &'static str = "o";

    fn into_keys(self) -> Vec<String> {
        vec![self.0]
    }
}

/// `KEYS` = the expiring set and the event stream ([`log_keys`](crate::keys::log_keys)).
#[derive(Debug)]
pub(crate) struct LogKeys(pub(crate) [String; 2]);

impl KeySet for LogKeys {
    const LAYOUT: &'static str = "e s";

    fn into_keys(self) -> Vec<String> {
        self.0.into()
    }
}

/// One script, bound to the key set it takes.
#[derive(Debug)]
pub(crate) struct Lua<K> {
    name: &'static str,
    /// The script's own text, without the prelude, for the tests that check it
    /// against the Rust side.
    #[cfg_attr(not(test), allow(dead_code))]
    source: &'static str,
    script: Script,
    keys: PhantomData<fn(K)>,
}

impl<K: KeySet> Lua<K> {
    fn new(name: &'static str, source: &'static str, script: Script) -> Self {
        Self {
            name,
            source,
            script,
            keys: PhantomData,
        }
    }

    /// Runs the script, answering the raw reply.
    pub(crate) async fn call(
        &self,
        client: &Client,
        keys: K,
        args: Vec<Value>,
    ) -> Result<Value, StoreError> {
        let keys: MultipleKeys = keys.into_keys().into();
        self.script
            .evalsha_with_reload::<Value, _, _>(client, keys, args)
            .await
            .map_err(client_error)
    }

    /// Runs the script, answering a cursor over its (array) reply.
    pub(crate) async fn run(
        &self,
        client: &Client,
        keys: K,
        args: Vec<Value>,
    ) -> Result<Reply, StoreError> {
        Reply::new(self.call(client, keys, args).await?, self.name)
    }

    /// Name, own text and key layout, for checking the scripts against the Rust side.
    #[cfg(test)]
    fn declared(&self) -> (&'static str, &'static str, &'static str) {
        (self.name, self.source, K::LAYOUT)
    }
}

macro_rules! script {
    ($name:literal) => {
        script!($name, "")
    };
    // `$extra`: more shared text, after the prelude (the directory scripts'
    // helpers, directory.lua).
    ($name:literal, $extra:expr) => {{
        const SOURCE: &str = include_str!(concat!("scripts/", $name, ".lua"));
        const SHARED: &str = concat!(
            include_str!("scripts/values.lua"),
            "\n",
            include_str!("scripts/index.lua"),
            "\n",
            include_str!("scripts/log.lua"),
            "\n",
            include_str!("scripts/prelude.lua"),
            "\n",
        );
        Lua::new(
            $name,
            SOURCE,
            Script::from_lua([SHARED, $extra, "\n", SOURCE].concat()),
        )
    }};
}

/// Every script, loaded once per server on first use (`EVALSHA`, then `SCRIPT LOAD`
/// and `EVALSHA` again on `NOSCRIPT`, e.g. after a server restart or failover).
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) acquire: Lua<DataKeys>,
    pub(crate) renew: Lua<BatchKeys>,
    pub(crate) release: Lua<BatchKeys>,
    pub(crate) commit: Lua<DataKeys>,
    pub(crate) load: Lua<DataKeys>,
    pub(crate) optimistic: Lua<DataKeys>,
    pub(crate) create: Lua<DataKeys>,
    pub(crate) delete: Lua<DataKeys>,
    pub(crate) rotate_out: Lua<DataKeys>,
    pub(crate) rotate_in: Lua<DataKeys>,
    pub(crate) rotate_end: Lua<DataKeys>,
    pub(crate) inspect: Lua<DataKeys>,
    pub(crate) locate: Lua<DataKeys>,
    pub(crate) sessions_of: Lua<IndexKeys>,
    pub(crate) expire: Lua<LogKeys>,
    pub(crate) events: Lua<LogKeys>,
    pub(crate) register: Lua<DirectoryKeys>,
    pub(crate) slots_of: Lua<DirectoryKeys>,
    pub(crate) trim: Lua<DirectoryKeys>,
    pub(crate) record: Lua<ShardKeys>,
    pub(crate) slot_pass: Lua<SlotKeys>,
    pub(crate) outbox: Lua<OutboxKeys>,
    pub(crate) move_out: Lua<MoveKeys>,
    pub(crate) schedule: Lua<ScheduleKeys>,
    pub(crate) take: Lua<ScheduleKeys>,
}

const DIRECTORY: &str = include_str!("scripts/directory.lua");

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            acquire: script!("acquire"),
            renew: script!("renew"),
            release: script!("release"),
            commit: script!("commit"),
            load: script!("load"),
            optimistic: script!("optimistic"),
            create: script!("create"),
            delete: script!("delete"),
            rotate_out: script!("rotate_out"),
            rotate_in: script!("rotate_in"),
            rotate_end: script!("rotate_end"),
            inspect: script!("inspect"),
            locate: script!("locate"),
            sessions_of: script!("sessions_of"),
            expire: script!("expire"),
            events: script!("events"),
            register: script!("register", DIRECTORY),
            slots_of: script!("slots_of", DIRECTORY),
            trim: script!("trim", DIRECTORY),
            record: script!("record"),
            slot_pass: script!("slot_pass"),
            outbox: script!("outbox"),
            move_out: script!("move"),
            schedule: script!("schedule"),
            take: script!("take"),
        }
    }

    /// Every script's name, own text and key layout.
    #[cfg(test)]
    fn declared(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        vec![
            self.acquire.declared(),
            self.renew.declared(),
            self.release.declared(),
            self.commit.declared(),
            self.load.declared(),
            self.optimistic.declared(),
            self.create.declared(),
            self.delete.declared(),
            self.rotate_out.declared(),
            self.rotate_in.declared(),
            self.rotate_end.declared(),
            self.inspect.declared(),
            self.locate.declared(),
            self.sessions_of.declared(),
            self.expire.declared(),
            self.events.declared(),
            self.register.declared(),
            self.slots_of.declared(),
            self.trim.declared(),
            self.record.declared(),
            self.slot_pass.declared(),
            self.outbox.declared(),
            self.move_out.declared(),
            self.schedule.declared(),
            self.take.declared(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::hint_code::{HintKind, TABLE as HINT_CODES};

    #[test]
    fn each_script_takes_the_keys_its_header_names() {
        let declared = Scripts::new().declared();
        assert_eq!(declared.len(), 25);
        for (name, source, layout) in declared {
            let header = source.split_once("KEYS: ").map(|(_, rest)| rest);
            let keys = header.and_then(|rest| rest.split_once('.')).map(|(k, _)| k);
            assert_eq!(keys, Some(layout), "script {name}");
        }
    }

    /// The first quoted literal right after `at` on the same line, if the line
    /// continues with one (after skipping `skip`).
    fn literal_after<'a>(text: &'a str, at: usize, skip: &str) -> Option<&'a str> {
        let line = text[at..].lines().next()?;
        let rest = line.strip_prefix(skip)?.trim_start();
        let rest = rest.strip_prefix('\'')?;
        rest.split_once('\'').map(|(code, _)| code)
    }

    /// Hint codes in a script: what it assigns to `hk` (hint kind) or passes to
    /// `granted` (acquire's reply builder, whose first argument is the hint kind).
    fn codes_in(source: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (at, _) in source.match_indices("hk, ht") {
            let line = source[at..].lines().next().unwrap_or("");
            if let Some(eq) = line.find(" = ") {
                out.extend(literal_after(source, at + eq, " = "));
            }
        }
        for (at, _) in source.match_indices("granted(") {
            out.extend(literal_after(source, at, "granted("));
        }
        out
    }

    #[test]
    fn scripts_use_exactly_these_codes() {
        let scripts = Scripts::new();
        let mut used = BTreeSet::new();
        for (name, source, _) in scripts.declared() {
            let codes = codes_in(source);
            if matches!(name, "acquire" | "commit") {
                assert!(!codes.is_empty(), "{name} names no hint codes");
            }
            used.extend(codes);
        }
        let mut ours: BTreeSet<&str> = HINT_CODES.iter().map(|(_, code)| *code).collect();
        ours.insert(HintKind::NONE);
        assert_eq!(used, ours);
    }
}
