-- The live sessions of one principal, from its index (index.lua): the whole index on
-- one server, one slot's shard on a cluster.
-- KEYS: i.  ARGV: key prefix, principal, label attribute ('' none), prune budget,
-- slot tag ('' on one server).
-- Entries whose score has passed name sessions gone for certain: at most `budget` of
-- them are removed unread. Every other entry is checked against its session (live,
-- and still of this principal). On one server one that fails is removed; on a cluster
-- it is only left out, since a slot migration may have moved the session's keys
-- (which this script does not declare) from under it: its score passes in time.
-- A cluster shard found with no entry left is deleted. No access to any session.
-- Reply: {now ms, entries left (sessions the index still names, live or not),
-- (session id, created ms, last access ms, label value or false)...}
local prefix, p, label, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local budget = num(ARGV[4], 'prune budget')
if label == nil or #ARGV ~= 5 or KEYS[1] ~= index_key(prefix, p, tag) then
  error('tenure: bad sessions_of')
end
local ix = KEYS[1]
local now = clock()
local dead = redis.call('ZRANGEBYSCORE', ix, '-inf', '(' .. fmt(now), 'LIMIT', 0, budget)
if #dead > 0 then chunked('ZREM', ix, dead, 1000) end
local out, gone = { now, 0 }, {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ix, fmt(now), '+inf')) do
  if sid ~= '' then
    local k = keys_from_meta(prefix .. ':{' .. sid .. '}:m', 1)
    local m = read_meta(k.m, now)
    if m ~= nil and principal_of(k) == p then
      local value = false
      if label ~= '' then
        value = redis.call('HGET', k.a, label)
        if value and redis.call('HEXISTS', k.o, label) == 1 then value = read_large(k, label) end
      end
      out[#out + 1] = sid
      out[#out + 1] = m.c
      out[#out + 1] = m.la
      out[#out + 1] = value
    elseif tag == '' then
      gone[#gone + 1] = sid
    end
  end
end
if #gone > 0 then chunked('ZREM', ix, gone, 1000) end
local left = redis.call('ZCARD', ix)
if redis.call('ZSCORE', ix, '') then left = left - 1 end
out[2] = left
if tag ~= '' and left == 0 and redis.call('ZCARD', ix) == 1 then
  -- A shard left with its horizon only goes now (a login under way that recorded
  -- it finds no horizon and asks the slot pass for one: index.lua).
  redis.call('DEL', ix)
elseif #dead > 0 or #gone > 0 then
  index_ttl(ix, now)
end
return out
