-- Store::events: on one server the expiry pass first (expire.lua, the same budget),
-- then the log after a position; on a cluster the log the outboxes were moved to
-- (log.lua), whose expiry passes run per slot. KEYS: e s.  ARGV: key prefix, budget,
-- after ('' from the oldest), count, cluster 0|1.
-- Reply: {missed 0|1, (id, session, kind, detail)...}
local prefix = ARGV[1]
local budget = num(ARGV[2], 'budget')
local after = ARGV[3]
local count = num(ARGV[4], 'count')
local cluster = flag(ARGV[5], 'cluster flag')
local want_e, want_s = expiring_key(prefix), log_key(prefix)
if cluster then want_e, want_s = prefix .. ':{events}:expiring', prefix .. ':{events}:log' end
if #ARGV ~= 5 or KEYS[1] ~= want_e or KEYS[2] ~= want_s then
  error('tenure: bad events')
end
local now = clock()
if not cluster then expire_pass(prefix, budget, now) end
local out = { 0 }
if redis.call('EXISTS', KEYS[2]) == 0 then return out end
local start = '-'
if after ~= '' then
  start = '(' .. after
  -- Trimmed entries above the position: the caller missed them.
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do
    if info[i] == 'max-deleted-entry-id' then
      local d = info[i + 1]
      local dm, ds = string.match(d, '^(%d+)-(%d+)$')
      local am, as = string.match(after, '^(%d+)-(%d+)$')
      if dm and am then
        dm, ds, am, as = tonumber(dm), tonumber(ds), tonumber(am), tonumber(as)
        if dm > am or (dm == am and ds > as) then out[1] = 1 end
      end
    end
  end
end
push_entries(out, redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', count))
return out
