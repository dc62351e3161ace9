-- KEYS: per session m, or on a cluster m a v o f x.  ARGV: owner, then (fence, commit id) per session.
-- Reply, per session in order: 'S' | 'A', version | 'C', hint kind, hint to, version
-- | 'X' (its stored state does not parse). Each session is what commit.lua does with
-- no ops and release set; one that fails does not fail the others.
local owner = ARGV[1]
local n = (#ARGV - 1) / 2
if owner == nil or owner == '' or n < 1 or n % 1 ~= 0 or #KEYS % n ~= 0 then
  error('tenure: bad release')
end
local per = #KEYS / n
local fences, ids, ks = {}, {}, {}
for j = 1, n do
  fences[j] = num(ARGV[2 * j], 'fence')
  ids[j] = num(ARGV[1 + 2 * j], 'commit id')
  ks[j] = session_keys(1 + (j - 1) * per, per)
end
local now = clock()
local out = {}
local function push(...)
  for _, v in ipairs({ ... }) do out[#out + 1] = v end
end
for j = 1, n do
  local k = ks[j]
  local fence, id = fences[j], ids[j]
  local parsed, m = pcall(read_meta, k.m, now)
  if not parsed then
    push('X')
  elseif m == nil then
    push('S')
  elseif m.cf == fence and m.cs == id then
    -- I2a: this release, sent before, applied.
    push('A', m.cv)
  elseif m.cf == fence and m.cs > id then
    push('S')
  else
    tidy(m, now)
    if m.o == '' or m.o ~= owner or m.f ~= fence then
      push('S')
    else
      m.la = now
      m.cf, m.cs, m.cv = fence, id, m.v
      local hk, ht = '', ''
      m.o, m.f, m.u = '', nil, nil
      if #m.q > 0 then hk, ht = 'G', m.q[1][1] end
      save_committed(k, m, nil, false)
      push('C', hk, ht, m.v)
    end
  end
end
return out
