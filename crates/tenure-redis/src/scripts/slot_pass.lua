-- One slot of the slot pass (Store::maintain on a cluster): the principals whose
-- shard in this slot asked for a later horizon (index.lua), at most `max`, each with
-- its top entry's score. One with no entry left leaves the slot key here.
-- KEYS: x.  ARGV: key prefix, max.
-- Reply: {count, (principal, top score ('inf' or ms))...}
local prefix = ARGV[1]
local max = num(ARGV[2], 'max')
local tag = string.match(KEYS[1] or '', ':x:{([^{}]*)}$')
if #ARGV ~= 2 or tag == nil or KEYS[1] ~= prefix .. ':x:{' .. tag .. '}' then
  error('tenure: bad slot_pass')
end
local out = { 0 }
local scan = redis.call('SSCAN', KEYS[1], 0, 'COUNT', max)
for _, p in ipairs(scan[2]) do
  local top = nil
  local entries = redis.call('ZREVRANGE', index_key(prefix, p, tag), 0, 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    if top == nil and entries[i] ~= '' then top = entries[i + 1] end
  end
  if top == nil then
    redis.call('SREM', KEYS[1], p)
  else
    out[1] = out[1] + 1
    out[#out + 1] = p
    out[#out + 1] = top
  end
end
return out
