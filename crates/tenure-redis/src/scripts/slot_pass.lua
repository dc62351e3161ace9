-- One slot of the slot pass (Store::maintain and Store::events on a cluster): the
-- slot's expiry pass (log.lua, at most `max` sessions), then the principals whose
-- shard in this slot asked for a later horizon (index.lua), at most `max`, each with
-- its top entry's score. One with no entry left leaves the slot key here.
-- KEYS: x.  ARGV: key prefix, max.
-- Reply: {outbox length, next deadline from now ms ('' none), asks count,
-- (principal, top score ('inf' or ms))...}
local prefix = ARGV[1]
local max = num(ARGV[2], 'max')
local tag = string.match(KEYS[1] or '', ':x:{([^{}]*)}$')
if #ARGV ~= 2 or tag == nil or KEYS[1] ~= prefix .. ':x:{' .. tag .. '}' then
  error('tenure: bad slot_pass')
end
local now = clock()
expire_pass(prefix, max, now, tag)
local next = ''
local first = redis.call('ZRANGE', expiring_key(prefix, tag), 0, 0, 'WITHSCORES')
if #first == 2 then
  local ahead = (tonumber(first[2]) or now) - now
  if ahead < 0 then ahead = 0 end
  next = fmt(ahead)
end
local out = { redis.call('XLEN', log_key(prefix, tag)), next, 0 }
-- A random `max` of them: each pass gets to any ask in time, however large the set.
for _, p in ipairs(redis.call('SRANDMEMBER', KEYS[1], max)) do
  local top = nil
  local entries = redis.call('ZREVRANGE', index_key(prefix, p, tag), 0, 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    if top == nil and entries[i] ~= '' then top = entries[i + 1] end
  end
  if top == nil then
    redis.call('SREM', KEYS[1], p)
  else
    out[3] = out[3] + 1
    out[#out + 1] = p
    out[#out + 1] = top
  end
end
return out
