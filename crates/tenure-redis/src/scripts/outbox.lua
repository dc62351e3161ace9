-- One slot's outbox on a cluster (log.lua): drops the entries up to `done` (moved by
-- move.lua), then reads the next ones.
-- KEYS: o.  ARGV: key prefix, done (outbox id, '' none), count.
-- Reply: {(outbox id, session, kind, detail)...} with a leading count.
local prefix, done = ARGV[1], ARGV[2]
local count = num(ARGV[3], 'count')
local tag = string.match(KEYS[1] or '', ':o:{([^{}]*)}$')
if #ARGV ~= 3 or tag == nil or KEYS[1] ~= log_key(prefix, tag) or done == nil then
  error('tenure: bad outbox')
end
if done ~= '' then
  local ms, seq = string.match(done, '^(%d+)-(%d+)$')
  if not ms then error('tenure: bad outbox id') end
  -- XTRIM MINID keeps its threshold: the id after `done`.
  redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. string.format('%d', tonumber(seq) + 1))
end
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', count)
local out = { #entries }
push_entries(out, entries)
return out
