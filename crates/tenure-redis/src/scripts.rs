//! The Lua scripts, one per protocol step, each run atomically by `EVALSHA`.

use fred::clients::Client;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, Value};

macro_rules! script {
    ($file:literal) => {
        Script::from_lua(concat!(
            include_str!("scripts/prelude.lua"),
            "\n",
            include_str!(concat!("scripts/", $file))
        ))
    };
}

/// Every script, loaded once per server on first use (`EVALSHA`, then `SCRIPT LOAD`
/// and `EVALSHA` again on `NOSCRIPT`, e.g. after a server restart or failover).
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) acquire: Script,
    pub(crate) renew: Script,
    pub(crate) commit: Script,
    pub(crate) load: Script,
    pub(crate) optimistic: Script,
    pub(crate) create: Script,
    pub(crate) delete: Script,
    pub(crate) rotate_out: Script,
    pub(crate) rotate_in: Script,
    pub(crate) rotate_end: Script,
    pub(crate) inspect: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            acquire: script!("acquire.lua"),
            renew: script!("renew.lua"),
            commit: script!("commit.lua"),
            load: script!("load.lua"),
            optimistic: script!("optimistic.lua"),
            create: script!("create.lua"),
            delete: script!("delete.lua"),
            rotate_out: script!("rotate_out.lua"),
            rotate_in: script!("rotate_in.lua"),
            rotate_end: script!("rotate_end.lua"),
            inspect: script!("inspect.lua"),
        }
    }
}

/// Runs `script` with `keys` and `args`, answering the raw reply.
pub(crate) async fn run(
    client: &Client,
    script: &Script,
    keys: Vec<String>,
    args: Vec<Value>,
) -> Result<Value, fred::error::Error> {
    let keys: MultipleKeys = keys.into();
    script
        .evalsha_with_reload::<Value, _, _>(client, keys, args)
        .await
}
