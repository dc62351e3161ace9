-- KEYS: m per session.  ARGV: owner, lease ms, then (fence, touch 0|1) per session.
-- Reply: one integer per session: 0 lost, 1 renewed, 2 renewed and recalled.
local owner = ARGV[1]
local lease = num(ARGV[2], 'lease')
local n = #KEYS
if owner == nil or owner == '' or #ARGV ~= 2 + 2 * n then
  error('tenure: bad renew')
end
local fences, touches, ks = {}, {}, {}
for j = 1, n do
  fences[j] = num(ARGV[1 + 2 * j], 'fence')
  touches[j] = flag(ARGV[2 + 2 * j], 'touch')
  ks[j] = session_keys(KEYS[j])
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
