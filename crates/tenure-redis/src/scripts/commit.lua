-- KEYS: m a v.  ARGV: owner, fence, commit id, release 0|1, replace all 0|1, new
-- timeouts (3, see read_timeouts), ops (see read_ops).
-- Reply: {'S'} | {'C', hint kind, hint to, version} | {'A', version} |
-- {'P', names of attributes whose patch does not apply...} (nothing applied)
local owner = ARGV[1]
local fence = num(ARGV[2], 'fence')
local id = num(ARGV[3], 'commit id')
local release = flag(ARGV[4], 'release')
local replace_all = flag(ARGV[5], 'replace all')
local timeouts = read_timeouts(6)
local order, final, _, patches = read_ops(9, false)
local now = clock()
local m = read_meta(KEYS[1], now)
if m == nil then return { 'S' } end
-- I2a: the same commit sent again applies once; a late copy of an older one of this
-- tenure applies never.
if m.cf == fence and m.cs == id then return { 'A', m.cv } end
if m.cf == fence and m.cs > id then return { 'S' } end
tidy(m, now)
if m.o == '' or m.o ~= owner or m.f ~= fence then return { 'S' } end
local refused = resolve_patches(KEYS[2], KEYS[3], final, patches)
if #refused > 0 then
  local out = { 'P' }
  for _, name in ipairs(refused) do out[#out + 1] = name end
  return out
end
local fresh = apply_ops(KEYS[2], KEYS[3], m, replace_all, order, final)
m.la = now
m.cf, m.cs, m.cv = fence, id, m.v
local hk, ht = '', ''
if release then
  m.o, m.f, m.u = '', nil, nil
  if #m.q > 0 then hk, ht = 'G', m.q[1][1] end
end
save_committed(KEYS[1], KEYS[2], KEYS[3], m, timeouts, fresh)
return { 'C', hk, ht, m.v }
