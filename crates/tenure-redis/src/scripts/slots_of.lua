-- The slots of a principal's directory (directory.lua) a listing must read.
-- KEYS: d.  ARGV: key prefix, principal, prune budget.
-- A field whose horizon has passed names a shard with no live entry: at most `budget`
-- of them are removed unread, and none is listed.
-- Reply: {now ms, the slot tags whose horizon has not passed...}
local prefix, p = ARGV[1], ARGV[2]
local budget = num(ARGV[3], 'prune budget')
if #ARGV ~= 3 then error('tenure: bad slots_of') end
check_directory(prefix, p, KEYS[1])
local now = clock()
local fields = redis.call('HGETALL', KEYS[1])
local out, dead = { now }, {}
for i = 1, #fields, 2 do
  local h = parse_field(fields[i + 1])
  if h ~= nil and h >= now then
    out[#out + 1] = fields[i]
  elseif #dead < budget then
    dead[#dead + 1] = fields[i]
  end
end
if #dead > 0 then
  chunked('HDEL', KEYS[1], dead, 1000)
  directory_ttl(KEYS[1], now)
end
return out
