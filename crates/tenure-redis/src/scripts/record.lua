-- Records in a shard (index.lua) the horizon its principal's directory was just given
-- for it (register.lua), after that call: the shard never holds a horizon the
-- directory does not. Clears the principal from the slot key where the horizon is
-- at least HORIZON_MARGIN past every entry.
-- KEYS: i x.  ARGV: key prefix, principal, horizon ('inf' or ms).
-- Reply: 1 if the principal left the slot key.
local prefix, p = ARGV[1], ARGV[2]
local horizon = score_num(ARGV[3] or '')
local tag = string.match(KEYS[2] or '', ':x:{([^{}]*)}$')
if #ARGV ~= 3 or horizon == nil or tag == nil or KEYS[1] ~= index_key(prefix, p, tag) then
  error('tenure: bad record')
end
local now = clock()
redis.call('ZADD', KEYS[1], ARGV[3] == 'inf' and '+inf' or fmt(horizon), '')
-- Members and scores alternate; the first member that is not '' is the top entry.
local top = nil
local top_entries = redis.call('ZREVRANGE', KEYS[1], 0, 1, 'WITHSCORES')
for i = 1, #top_entries, 2 do
  if top == nil and top_entries[i] ~= '' then top = score_num(top_entries[i + 1]) end
end
index_ttl(KEYS[1], now)
if top == nil or horizon == math.huge or (top ~= math.huge and horizon >= top + HORIZON_MARGIN) then
  redis.call('SREM', KEYS[2], p)
  return 1
end
return 0
