-- KEYS: per session m, or on a cluster m a v o f x.  ARGV: owner, lease ms, then (fence, touch 0|1) per session.
-- Reply: one integer per session: 0 lost, 1 renewed, 2 renewed and recalled.
local owner = ARGV[1]
local lease = num(ARGV[2], 'lease')
local n = (#ARGV - 2) / 2
if owner == nil or owner == '' or n < 1 or n % 1 ~= 0 or #KEYS % n ~= 0 then
  error('tenure: bad renew')
end
local per = #KEYS / n
local fences, touches, ks = {}, {}, {}
for j = 1, n do
  fences[j] = num(ARGV[1 + 2 * j], 'fence')
  touches[j] = flag(ARGV[2 + 2 * j], 'touch')
  ks[j] = session_keys(1 + (j - 1) * per, per)
end
local now = clock()
local out = {}
for j = 1, n do
  local k = ks[j]
  -- A session whose stored state does not parse is lost to its holder, without
  -- failing the others' renewals (some of which are already written).
  local parsed, m = pcall(read_meta, k.m, now)
  out[j] = 0
  if parsed and m ~= nil then
    tidy(m, now)
    if m.o == owner and m.f == fences[j] then
      m.u = now + lease
      if touches[j] then m.la = now end
      if touches[j] then save_live(k, m, false) else save_meta(k.m, m) end
      if #m.q > 0 then out[j] = 2 else out[j] = 1 end
    end
  end
end
return out
