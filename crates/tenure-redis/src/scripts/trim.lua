-- Takes slots whose shard a listing found with no live entry out of a principal's
-- directory (directory.lua), each only if no session of that slot was given the
-- principal within `guard`: the store registers before the script that adds the
-- entry, so a login under way between the two keeps its slot.
-- KEYS: d.  ARGV: key prefix, principal, guard ms, slot tags...
-- Reply: how many were taken out.
local prefix, p = ARGV[1], ARGV[2]
local guard = num(ARGV[3], 'guard')
check_directory(prefix, p, KEYS[1])
local now = clock()
local gone = {}
for i = 4, #ARGV do
  local h, t = parse_field(redis.call('HGET', KEYS[1], ARGV[i]))
  if h ~= nil and t ~= nil and now - t >= guard then gone[#gone + 1] = ARGV[i] end
end
if #gone > 0 then
  chunked('HDEL', KEYS[1], gone, 1000)
  directory_ttl(KEYS[1], now)
end
return #gone
