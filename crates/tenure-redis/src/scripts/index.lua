-- Shared by every Tenure script, after values.lua and before prelude.lua: the index
-- from a principal to its sessions (issue 15).
--
-- On one server the index of principal p is the sorted set 'P:p:{<p as hex>}', one
-- member per session id, scored with the deadline (ms) the session's keys were last
-- given (kt, see plan_ttl), or +inf for a session without timeouts. kt never falls
-- below the session's expiry and the score moves with it, so an entry whose score has
-- passed names a session that is gone for certain: sessions_of drops such entries
-- without reading their sessions, a bounded number per call. The set's own TTL is its
-- highest score, so the index of a principal whose sessions all expired goes with them.
--
-- The script that changes a session changes its entry in the same atomic step: where
-- the principal is set, changed or removed (commit, optimistic, create, rotate, delete,
-- a commit that ends the session), and where the keys' TTL moves (save_live,
-- save_committed).
--
-- On a cluster the index is sharded by slot: the entries of p's sessions in the slot
-- tagged T are the set 'P:p:{T}:<p as hex>', in the sessions' own slot, so the same
-- scripts keep them the same way. The directory 'P:d:{<p as hex>}' (another slot,
-- written by the store before the script that gives a session its principal; see
-- tenure-redis/src/directory.rs) names the slots that may hold p's entries, each
-- with a horizon: a time no entry of that shard is scored past. The shard keeps the
-- horizon the directory has for it as the score of its member '' (no session id is
-- empty). Where an entry's score comes within HORIZON_MARGIN of it, or there is none,
-- the script adds p to the slot key 'P:x:{T}', and the store's slot pass
-- (Store::maintain) moves the directory's horizon on, then the shard's.

local PRINCIPAL = '\0tenure.principal'

local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end

-- The index key of principal p under the key prefix: on one server, or with `tag`
-- (a slot's tag) p's shard of that slot on a cluster.
local function index_key(prefix, p, tag)
  if tag ~= nil and tag ~= '' then return prefix .. ':p:{' .. tag .. '}:' .. hex(p) end
  return prefix .. ':p:{' .. hex(p) .. '}'
end

-- How near an entry's score may come to its shard's horizon before the slot pass is
-- asked to move the horizon on (1 h; see directory.rs, which gives horizons 2 h ahead).
local HORIZON_MARGIN = 3600000

-- A score as Redis writes it ('inf' for +inf), as a number.
local function score_num(s)
  if s == 'inf' or s == '+inf' then return math.huge end
  return tonumber(s)
end

-- The shard horizon check of a cluster (see the header): p goes to the slot key where
-- the horizon is missing or within HORIZON_MARGIN of the score kt (0: +inf).
local function check_horizon(k, ix, p, kt)
  local h = score_num(redis.call('ZSCORE', ix, '') or '')
  local need = kt
  if need == nil or need <= 0 then need = math.huge else need = need + HORIZON_MARGIN end
  if h == nil or h < need then redis.call('SADD', k.x, p) end
end

-- The key prefix and session id in the session's meta key.
local function key_parts(k)
  return string.match(k.m, '^(.*):{([^{}]*)}:m$')
end

-- The session's principal (the stored text of its principal attribute), or nil. Read
-- once per script and kept in k.pv (false: none) until a write to the values
-- (write_values, apply_ops, delete_session) forgets it.
local function principal_of(k)
  if k.pv == nil then
    local p = redis.call('HGET', k.a, PRINCIPAL)
    if not p or p == '' then p = false end
    k.pv = p
  end
  return k.pv or nil
end

-- Gives the set the TTL of its highest score: none while it holds a session without
-- timeouts, and nothing to do once it is empty (Redis deletes an empty set).
local function index_ttl(ix, now)
  local top = redis.call('ZRANGE', ix, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local score = score_num(top[2])
  if score == nil or score == math.huge then
    redis.call('PERSIST', ix)
    return
  end
  local ttl = score - now
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', ix, string.format('%d', ttl))
end

-- Scores the session in p's index with its keys' deadline kt (0: no timeouts).
local function index_put(k, p, kt, now)
  if not k.indexed then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  local ix = index_key(prefix, p, k.tag)
  if kt == nil or kt <= 0 then
    redis.call('ZADD', ix, '+inf', sid)
  else
    redis.call('ZADD', ix, string.format('%d', kt), sid)
  end
  if k.tag then check_horizon(k, ix, p, kt) end
  index_ttl(ix, now)
end

-- Takes the session out of p's index.
local function index_remove(k, p, now)
  if not k.indexed then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  local ix = index_key(prefix, p, k.tag)
  if redis.call('ZREM', ix, sid) == 1 then index_ttl(ix, now) end
end

-- After a write that found the principal `before` (nil: none): the session's entry
-- moved to its principal now, scored with its keys' deadline (m.kt), or removed if the
-- write ended the session (m.gone). Answers the principal now, and whether it changed
-- (for the event, log.lua).
local function reindex(k, m, before, now)
  if not k.indexed then return nil, false end
  local after = nil
  if not m.gone then after = principal_of(k) end
  if before ~= nil and before ~= after then index_remove(k, before, now) end
  if after ~= nil then index_put(k, after, m.kt or 0, now) end
  return after, before ~= after
end
