-- Shared by every Tenure script, after values.lua and before prelude.lua: the index
-- from a principal to its sessions (issue 15), on one server.
--
-- The index of principal p is the sorted set 'P:p:{<p as hex>}', one member per
-- session id, scored with the deadline (ms) the session's keys were last given (kt,
-- see plan_ttl), or +inf for a session without timeouts. kt never falls below the
-- session's expiry and the score moves with it, so an entry whose score has passed
-- names a session that is gone for certain: sessions_of drops such entries without
-- reading their sessions, a bounded number per call. The set's own TTL is its highest
-- score, so the index of a principal whose sessions all expired goes with them.
--
-- The script that changes a session changes its entry in the same atomic step: where
-- the principal is set, changed or removed (commit, optimistic, create, rotate, delete,
-- a commit that ends the session), and where the keys' TTL moves (save_live,
-- save_committed). On a cluster the set lives in another slot than the session, so the
-- scripts leave it alone (k.one_server is false) and the store has no index there.

local PRINCIPAL = '\0tenure.principal'

local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end

-- The index key of principal p under the key prefix.
local function index_key(prefix, p)
  return prefix .. ':p:{' .. hex(p) .. '}'
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
  local score = tonumber(top[2])
  if top[2] == 'inf' or score == nil or score == math.huge then
    redis.call('PERSIST', ix)
    return
  end
  local ttl = score - now
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', ix, string.format('%d', ttl))
end

-- Scores the session in p's index with its keys' deadline kt (0: no timeouts).
local function index_put(k, p, kt, now)
  if not k.one_server then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  local ix = index_key(prefix, p)
  if kt == nil or kt <= 0 then
    redis.call('ZADD', ix, '+inf', sid)
  else
    redis.call('ZADD', ix, string.format('%d', kt), sid)
  end
  index_ttl(ix, now)
end

-- Takes the session out of p's index.
local function index_remove(k, p, now)
  if not k.one_server then return end
  local prefix, sid = key_parts(k)
  if prefix == nil then return end
  local ix = index_key(prefix, p)
  if redis.call('ZREM', ix, sid) == 1 then index_ttl(ix, now) end
end

-- After a write that found the principal `before` (nil: none): the session's entry
-- moved to its principal now, scored with its keys' deadline (m.kt), or removed if the
-- write ended the session (m.gone). Answers the principal now, and whether it changed
-- (for the event, log.lua).
local function reindex(k, m, before, now)
  if not k.one_server then return nil, false end
  local after = nil
  if not m.gone then after = principal_of(k) end
  if before ~= nil and before ~= after then index_remove(k, before, now) end
  if after ~= nil then index_put(k, after, m.kt or 0, now) end
  return after, before ~= after
end
