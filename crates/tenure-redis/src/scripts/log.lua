-- Shared by every Tenure script, after index.lua and before prelude.lua: the event log
-- (issue 15).
--
-- On one server events go to the stream 'P:events' (fields s session, k kind, d
-- detail: the new id of a rotation, the principal), appended by the script that makes
-- the change, so the two are one atomic step and stream ids follow the order changes
-- took effect. The stream keeps about EVENT_LOG entries (XADD MAXLEN ~). Expiries have
-- no script of their own: a session's keys just run out. So every session with
-- timeouts is in the sorted set 'P:expiring', scored like its principal index entry
-- with its keys' deadline kt; expire.lua takes the entries whose score has passed, a
-- bounded number per call, and writes an 'expired' event for each session that is
-- gone (re-scoring one that is not).
--
-- On a cluster the same happens per slot (tag T, in the sessions' own slot): events go
-- to the slot's outbox 'P:o:{T}', expiring sessions to 'P:e:{T}', and the expiry pass
-- runs per slot (slot_pass.lua). The store moves outboxes into the one stream
-- 'P:{events}:log' (move.lua, exactly once per entry by a per-slot cursor) when it
-- reads events, after an operation that wrote one, and in the slot pass
-- (tenure-redis/src/events.rs).

local EVENT_LOG = 100000

-- The stream and the expiring set: of one server (tag nil), or of the slot tagged
-- `tag` on a cluster (its outbox).
local function log_key(prefix, tag)
  if tag then return prefix .. ':o:{' .. tag .. '}' end
  return prefix .. ':events'
end
local function expiring_key(prefix, tag)
  if tag then return prefix .. ':e:{' .. tag .. '}' end
  return prefix .. ':expiring'
end

-- Appends an event about the session k (detail '' for none).
local function event(k, kind, detail)
  if not k.indexed then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  redis.call('XADD', log_key(prefix, k.tag), 'MAXLEN', '~', EVENT_LOG, '*',
    's', sid, 'k', kind, 'd', detail or '')
end

-- Appends stream entries to `out`, each as its id, session, kind and detail.
local function push_entries(out, entries)
  for _, entry in ipairs(entries) do
    local f = {}
    for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
    out[#out + 1] = entry[1]
    out[#out + 1] = f.s or ''
    out[#out + 1] = f.k or ''
    out[#out + 1] = f.d or ''
  end
end

-- Scores the session in the expiring set with its keys' deadline kt (0: none).
local function expiring_put(k, kt)
  if not k.indexed then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  if kt == nil or kt <= 0 then
    redis.call('ZREM', expiring_key(prefix, k.tag), sid)
  else
    redis.call('ZADD', expiring_key(prefix, k.tag), string.format('%d', kt), sid)
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
  if found and k.indexed then
    event(k, 'expired')
    expiring_remove(k)
  end
end
