-- Second step of rotate_id, on the new id. KEYS: m, or on a cluster m a v o f x.
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
local k = session_keys(1, #KEYS)
local now, now_us = clock()
if read_meta(k.m, now) ~= nil then return { 'E' } end
report_leftover(k, meta_found)
delete_session(k)
local lf = tonumber(redis.call('GET', k.f) or '0') or 0
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
  write_values(k, sets, {})
  chunked('HSET', k.v, vers, 2000)
end
save_live(k, m, true)
-- save_live scored the index entry where the keys got a TTL; a session without
-- timeouts gets it here (index.lua).
if n > 0 and expires_at(m) == nil then reindex(k, m, nil, now) end
return { 'R', fence }
