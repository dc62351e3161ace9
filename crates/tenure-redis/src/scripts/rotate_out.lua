-- First step of rotate_id, on the old id. KEYS: m, or on a cluster m a v o f x.
-- ARGV: holder owner ('' none), holder fence (0 none), rotation owner, rotation lease ms.
-- If the caller holds the lock, it stays; if nobody does, the rotation takes it, so
-- the data cannot change until the rotation finishes or its lease runs out.
-- Reply: {'N'} | {'S'} | {'O', lock owner, lock fence, lease left ms, version, idle,
--         absolute, age, attrs...}
local holder = ARGV[1]
local hfence = num(ARGV[2], 'fence')
local rot = ARGV[3]
local rlease = num(ARGV[4], 'rotation lease')
if holder == nil or rot == nil or rot == '' or #ARGV ~= 4 then error('tenure: bad rotate') end
local k = session_keys(1, #KEYS)
local now, now_us = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
tidy(m, now)
local lock = m.o == '' and holder == ''
if lock then
  m.o, m.f, m.u = rot, new_fence(m, now_us), now + rlease
elseif m.o == '' or m.o ~= holder or m.f ~= hfence then
  return { 'S' }
end
local out = { 'O', m.o, m.f, math.max(0, m.u - now), m.v, m.i, m.x, math.max(0, now - m.c) }
-- Read before the first write: a read that fails then changes nothing.
push_attrs(out, k)
if lock then save_meta(k.m, m) end
return out
