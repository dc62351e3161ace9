-- Last step of rotate_id, on the old id. KEYS: m, or on a cluster m a v o f x.
-- ARGV: lock owner, lock fence, finish 1 (delete the old id) | 0 (abort: unlock it if
-- the rotation locked it), fence linger ms, rotation owner, new id (for the event).
-- Reply: {0} (the lock was lost meanwhile: nothing changed) | {1, owners to hint...}
local owner = ARGV[1]
local fence = num(ARGV[2], 'fence')
local finish = flag(ARGV[3], 'finish')
local linger = num(ARGV[4], 'linger')
local rot = ARGV[5]
local new = ARGV[6]
if owner == nil or rot == nil or new == nil or #ARGV ~= 6 then error('tenure: bad rotate') end
local k = session_keys(1, #KEYS)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 0 } end
tidy(m, now)
if m.o ~= owner or m.f ~= fence then return { 0 } end
local out = { 1 }
if finish then
  for _, w in ipairs(m.q) do out[#out + 1] = w[1] end
  if linger > 0 then redis.call('SET', k.f, fmt(m.lf), 'PX', fmt(linger)) end
  local p = k.indexed and principal_of(k)
  if p then index_remove(k, p, now) end
  delete_session(k)
  event(k, 'rotated', new)
  expiring_remove(k)
elseif m.o == rot then
  -- Unlocked again: the head waiter (told to retry after the rotation lease) may go.
  m.o, m.f, m.u = '', nil, nil
  save_meta(k.m, m)
  if #m.q > 0 then out[#out + 1] = m.q[1][1] end
end
return out
