-- KEYS: m a v.  ARGV: owner, lease ms, wait ms, live 0|1 (the caller keeps a liveness
-- key), dead (an owner whose liveness key the caller found gone, or '').
-- Reply: {'N'} | {'G', hint kind, hint to, fence, version, idle, absolute, age, attrs...}
--        | {'Q', hint kind, hint to, position, retry after ms, queued for ms,
--           holder keeps a liveness key 0|1}
local owner = ARGV[1]
local lease = num(ARGV[2], 'lease')
local wait = num(ARGV[3], 'wait')
local live = num(ARGV[4], 'liveness flag')
local dead = ARGV[5]
if owner == nil or owner == '' or dead == nil or #ARGV ~= 5 then error('tenure: bad acquire') end
local now, now_us = clock()
local m = read_meta(KEYS[1], now)
if m == nil then return { 'N' } end
tidy(m, now)
-- I15: a liveness key, once gone, never comes back, so its holder's lock is void.
if dead ~= '' and m.o == dead and m.ol == 1 and dead ~= owner then
  m.o, m.f, m.u = '', nil, nil
end
m.la = now
local function granted(hk, ht)
  save_meta(KEYS[1], m)
  apply_ttl(KEYS[1], KEYS[2], KEYS[3], m)
  local out = { 'G', hk, ht, m.f, m.v, m.i, m.x, math.max(0, now - m.c) }
  return push_attrs(out, KEYS[2], KEYS[3])
end
if m.o == owner then
  m.u = now + lease
  return granted('', '')
end
local at_head = #m.q == 0 or m.q[1][1] == owner
if m.o == '' and at_head then
  if #m.q > 0 then table.remove(m.q, 1) end
  m.o, m.f, m.u = owner, new_fence(m, now_us), now + lease
  m.ol = live
  if #m.q > 0 then return granted('R', owner) end
  return granted('', '')
end
local pos, since = nil, now
for i, w in ipairs(m.q) do
  if w[1] == owner then
    w[2] = now + wait
    pos, since = i, w[3]
  end
end
if pos == nil then
  m.q[#m.q + 1] = { owner, now + wait, now }
  pos = #m.q
end
local hk, ht, untl
if m.o ~= '' then
  hk, ht, untl = 'R', m.o, m.u
else
  -- Free but reserved for the head waiter: nudge it again, the first hint may be lost.
  hk, ht, untl = 'G', m.q[1][1], m.q[1][2]
end
save_meta(KEYS[1], m)
apply_ttl(KEYS[1], KEYS[2], KEYS[3], m)
local retry = untl - now
if retry < 0 then retry = 0 end
local holder_live = 0
if m.o ~= '' then holder_live = m.ol end
return { 'Q', hk, ht, pos, retry, math.max(0, now - since), holder_live }
