-- KEYS: m, or on a cluster m a v o f x.  ARGV: idle ms (0 none), absolute ms (0 none), owner ('' no tenure),
-- lease ms, live 0|1 (the owner keeps a liveness key), count, (name, value) per
-- attribute.
-- Reply: {'E'} | {'C', fence (0 none)}
local idle = num(ARGV[1], 'idle')
local absolute = num(ARGV[2], 'absolute')
local owner = ARGV[3]
local lease = num(ARGV[4], 'lease')
local live = num(ARGV[5], 'liveness flag')
local n = num(ARGV[6], 'attribute count')
if owner == nil or #ARGV ~= 6 + 2 * n then error('tenure: bad create') end
local k = session_keys(1, #KEYS)
local now, now_us = clock()
if read_meta(k.m, now) ~= nil then return { 'E' } end
-- Leftovers of an earlier session with this id (expired, or their TTL not yet run out).
report_leftover(k, meta_found)
delete_session(k)
local lf = tonumber(redis.call('GET', k.f) or '0') or 0
local m = { v = 1, c = now, i = idle, x = absolute, la = now, lf = lf, o = '', q = {} }
local fence = 0
if owner ~= '' then
  m.o, m.f, m.u = owner, new_fence(m, now_us), now + lease
  m.ol = live
  fence = m.f
end
if n > 0 then
  local sets, vers = {}, {}
  for k = 0, n - 1 do
    sets[#sets + 1] = ARGV[7 + 2 * k]
    sets[#sets + 1] = ARGV[8 + 2 * k]
    vers[#vers + 1] = ARGV[7 + 2 * k]
    vers[#vers + 1] = '1'
  end
  write_values(k, sets, {})
  chunked('HSET', k.v, vers, 2000)
end
save_live(k, m, true)
-- save_live scored the index entry where the keys got a TTL; a session without
-- timeouts gets it here (index.lua).
if n > 0 and expires_at(m) == nil then reindex(k, m, nil, now) end
event(k, 'created')
if n > 0 then
  local p = k.indexed and principal_of(k)
  if p then event(k, 'principal', p) end
end
return { 'C', fence }
