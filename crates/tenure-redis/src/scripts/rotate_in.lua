-- Second step of rotate_id, on the new id. KEYS: m a v f.
-- ARGV: owner ('' to leave it unlocked), lease left ms, version, idle, absolute, age ms,
-- live 0|1 (the owner keeps a liveness key), count, (name, value, version) per
-- attribute.
-- Reply: {'E'} | {'R', fence (0 none)}
local owner = ARGV[1]
local lease = num(ARGV[2], 'lease')
local version = num(ARGV[3], 'version')
local idle = num(ARGV[4], 'idle')
local absolute = num(ARGV[5], 'absolute')
local age = num(ARGV[6], 'age')
local live = num(ARGV[7], 'liveness flag')
local n = num(ARGV[8], 'attribute count')
if owner == nil or #ARGV ~= 8 + 3 * n then error('tenure: bad rotate') end
local vers = {}
for k = 0, n - 1 do
  vers[#vers + 1] = ARGV[9 + 3 * k]
  vers[#vers + 1] = fmt(num(ARGV[11 + 3 * k], 'attribute version'))
end
local now, now_us = clock()
if read_meta(KEYS[1], now) ~= nil then return { 'E' } end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local lf = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
local m = { v = version, c = now - age, i = idle, x = absolute, la = now, lf = lf, o = '', q = {} }
local fence = 0
if owner ~= '' then
  m.o, m.f, m.u = owner, new_fence(m, now_us), now + lease
  m.ol = live
  fence = m.f
end
if n > 0 then
  local sets = {}
  for k = 0, n - 1 do
    sets[#sets + 1] = ARGV[9 + 3 * k]
    sets[#sets + 1] = ARGV[10 + 3 * k]
  end
  chunked('HSET', KEYS[2], sets, 2000)
  chunked('HSET', KEYS[3], vers, 2000)
end
save_live(KEYS[1], KEYS[2], KEYS[3], m, true)
return { 'R', fence }
