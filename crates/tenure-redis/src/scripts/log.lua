-- Shared by every Tenure script, after index.lua and before prelude.lua: the event log
-- (issue 15), on one server.
--
-- Events go to the stream 'P:events' (fields s session, k kind, d detail: the new id
-- of a rotation, the principal), appended by the script that makes the change, so the
-- two are one atomic step and stream ids follow the order changes took effect. The
-- stream keeps about EVENT_LOG entries (XADD MAXLEN ~). Expiries have no script of
-- their own: a session's keys just run out. So every session with timeouts is in the
-- sorted set 'P:expiring', scored like its principal index entry with its keys'
-- deadline kt; expire.lua takes the entries whose score has passed, a bounded number
-- per call, and writes an 'expired' event for each session that is gone (re-scoring
-- one that is not). On a cluster both keys are in other slots than the sessions, and
-- the scripts leave them alone (k.one_server false): no events there.

local EVENT_LOG = 100000

local function log_key(prefix) return prefix .. ':events' end
local function expiring_key(prefix) return prefix .. ':expiring' end

-- Appends an event about the session k (detail '' for none).
local function event(k, kind, detail)
  if not k.one_server then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  redis.call('XADD', log_key(prefix), 'MAXLEN', '~', EVENT_LOG, '*',
    's', sid, 'k', kind, 'd', detail or '')
end

-- Scores the session in the expiring set with its keys' deadline kt (0: none).
local function expiring_put(k, kt)
  if not k.one_server then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  if kt == nil or kt <= 0 then
    redis.call('ZREM', expiring_key(prefix), sid)
  else
    redis.call('ZADD', expiring_key(prefix), string.format('%d', kt), sid)
  end
end

local function expiring_remove(k)
  expiring_put(k, 0)
end

-- reindex (index.lua) after a commit that may have changed the principal, and its
-- event: 'principal' or 'principal-cleared' where it changed and the session stays.
local function reindex_and_report(k, m, before, now)
  local p, changed = reindex(k, m, before, now)
  if changed and not m.gone then
    if p then event(k, 'principal', p) else event(k, 'principal-cleared') end
  end
end

-- Before a script reuses the id of a session that expired, whose keys read_meta found
-- still there (meta_found): that session's expiry is reported now, as expire.lua
-- would have.
local function report_leftover(k, found)
  if found and k.one_server then
    event(k, 'expired')
    expiring_remove(k)
  end
end
