-- KEYS: m, or on a cluster m a v o f x.  ARGV: owner, lease ms, wait ms, live 0|1 (the caller keeps a liveness
-- key), dead (an owner whose liveness key the caller found gone, or ''), known: the
-- session version of the caller's copy ('' none: acquire, not acquire_since), n, then
-- n (attribute name, version) pairs of the copy.
-- Reply: {'N'} | {'G', hint kind, hint to, fence, version, idle, absolute, age, attrs...}
--        | {'P', hint kind, hint to, fence, version, idle, absolute, age, r, r removed
--           names..., attrs the copy lacks...}
--        | {'Q', hint kind, hint to, position, retry after ms, queued for ms,
--           holder keeps a liveness key 0|1}
-- attrs are (name, value, version) triples; in a 'P' reply the value may be an array
-- of patches that make it from the copy's (see log_chain).
if #ARGV < 7 then error('tenure: bad acquire') end
local owner = ARGV[1]
local lease = num(ARGV[2], 'lease')
local wait = num(ARGV[3], 'wait')
local live = num(ARGV[4], 'liveness flag')
local dead = ARGV[5]
local nk = num(ARGV[7], 'known count')
if owner == '' or #ARGV ~= 7 + 2 * nk then error('tenure: bad acquire') end
-- What the caller's copy holds, by name (nil: it names none). Read in full here, as
-- every argument is, before the first write.
local known = nil
if ARGV[6] ~= '' then
  known = { v = num(ARGV[6], 'known version'), attrs = {} }
  for k = 0, nk - 1 do
    known.attrs[ARGV[8 + 2 * k]] = num(ARGV[9 + 2 * k], 'known attribute version')
  end
elseif nk ~= 0 then
  error('tenure: bad acquire')
end
local k = session_keys(1, #KEYS)
local now, now_us = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
tidy(m, now)
-- I15: a liveness key, once gone, never comes back, so its holder's lock is void.
if dead ~= '' and m.o == dead and m.ol == 1 and dead ~= owner then
  m.o, m.f, m.u = '', nil, nil
end
m.la = now
-- Appends what a caller whose copy is `known` lacks: the count and names of the
-- attributes it holds that the session no longer has, then every attribute it does
-- not hold at exactly its current version (version 0, unknown, never matches). Names
-- come from the values hash, so an attribute without a version is sent, not lost.
local function push_changed(out)
  local names = redis.call('HKEYS', k.a)
  local vers = redis.call('HGETALL', k.v)
  local apart = outboard_set(k)
  local ver, present, want = {}, {}, {}
  for i = 1, #vers, 2 do ver[vers[i]] = tonumber(vers[i + 1]) or 0 end
  for _, name in ipairs(names) do
    present[name] = true
    local v = ver[name] or 0
    if v == 0 or known.attrs[name] ~= v then want[#want + 1] = name end
  end
  local removed = {}
  for name, _ in pairs(known.attrs) do
    if not present[name] then removed[#removed + 1] = name end
  end
  out[#out + 1] = #removed
  for _, name in ipairs(removed) do out[#out + 1] = name end
  -- HMGET in chunks, so a long list stays within Lua's stack.
  for i = 1, #want, 1000 do
    local last = math.min(i + 999, #want)
    local values = redis.call('HMGET', k.a, unpack(want, i, last))
    for j = i, last do
      local name, v = want[j], ver[want[j]] or 0
      -- A value kept apart that the copy has at an older version: its patches since,
      -- if the log reaches back that far (an array in place of the value).
      local chain = nil
      if apart[name] and known.attrs[name] and v ~= 0 then
        chain = log_chain(k, name, known.attrs[name], v)
      end
      out[#out + 1] = name
      out[#out + 1] = chain or stored_value(k, apart, name, values[j - i + 1])
      out[#out + 1] = v
    end
  end
  return out
end
local function granted(hk, ht)
  local out = { 'G', hk, ht, m.f, m.v, m.i, m.x, math.max(0, now - m.c) }
  -- A copy that claims a version above the session's is of something else: all of it.
  -- Read before the first write (the lock saved), so a read that fails changes nothing.
  if known == nil or known.v > m.v then
    push_attrs(out, k)
  else
    out[1] = 'P'
    push_changed(out)
  end
  save_live(k, m, false)
  return out
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
save_live(k, m, false)
local retry = untl - now
if retry < 0 then retry = 0 end
local holder_live = 0
if m.o ~= '' then holder_live = m.ol end
return { 'Q', hk, ht, pos, retry, math.max(0, now - since), holder_live }
