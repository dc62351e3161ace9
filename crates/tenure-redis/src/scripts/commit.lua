-- KEYS: m a v.  ARGV: owner, fence, release 0|1, replace all 0|1, new timeouts (3, see
-- read_timeouts), ops (see read_ops).
-- Reply: {'S'} | {'C', hint kind, hint to, version}
local owner = ARGV[1]
local fence = num(ARGV[2], 'fence')
local release = flag(ARGV[3], 'release')
local replace_all = flag(ARGV[4], 'replace all')
local timeouts = read_timeouts(5)
local order, final = read_ops(8, false)
local now = clock()
local m = read_meta(KEYS[1], now)
if m == nil then return { 'S' } end
tidy(m, now)
if m.o == '' or m.o ~= owner or m.f ~= fence then return { 'S' } end
apply_ops(KEYS[2], KEYS[3], m, replace_all, order, final)
m.la = now
local hk, ht = '', ''
if release then
  m.o, m.f, m.u = '', nil, nil
  if #m.q > 0 then hk, ht = 'G', m.q[1][1] end
end
save_committed(KEYS[1], KEYS[2], KEYS[3], m, timeouts)
return { 'C', hk, ht, m.v }
