-- Moves one slot's outbox entries (log.lua) into the cluster's event log, each exactly
-- once: the per-slot cursor 'P:{events}:moved' (field: slot tag, value: the last
-- outbox id moved) is in the log's slot, so appending and moving the cursor are one
-- step, and an entry read again (the outbox is trimmed after this call) is skipped.
-- KEYS: s c.  ARGV: key prefix, slot tag, then (outbox id, session, kind, detail)...
-- Reply: {the last outbox id moved ('' none yet)}
local prefix, tag = ARGV[1], ARGV[2]
if tag == nil or tag == '' or (#ARGV - 2) % 4 ~= 0 or KEYS[1] ~= prefix .. ':{events}:log'
  or KEYS[2] ~= prefix .. ':{events}:moved' then
  error('tenure: bad move')
end
-- Stream ids 'ms-seq' compared as numbers.
local function later(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am then error('tenure: bad outbox id') end
  if not bm then return true end
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local last = redis.call('HGET', KEYS[2], tag) or ''
for i = 3, #ARGV, 4 do
  if later(ARGV[i], last) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', EVENT_LOG, '*',
      's', ARGV[i + 1], 'k', ARGV[i + 2], 'd', ARGV[i + 3])
    last = ARGV[i]
  end
end
if last ~= '' then redis.call('HSET', KEYS[2], tag, last) end
return { last }
