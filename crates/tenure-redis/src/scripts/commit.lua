-- KEYS: m, or on a cluster m a v o f x.  ARGV: head (packed: fence, commit id, flags 1 release 2 replace all 4 new
-- timeouts, with 4 idle and absolute ms; then the owner; see args::commit_head), ops
-- (see read_ops).
-- Reply: {'S'} | {'C', version} | {'C', hint kind, hint to, version} | {'A', version} |
-- {'P', names of attributes whose patch does not apply...} (nothing applied)
local k = session_keys(1, #KEYS)
local head = ARGV[1]
if type(head) ~= 'string' or #head < 17 then error('tenure: bad commit head') end
local fence, id, flags, pos = struct.unpack('<ddB', head)
whole(fence, 'fence')
whole(id, 'commit id')
if flags > 7 then error('tenure: bad commit flags') end
local release = flags % 2 == 1
local replace_all = flags % 4 >= 2
local timeouts = nil
if flags >= 4 then
  if #head < pos + 15 then error('tenure: bad commit head') end
  local idle, absolute
  idle, absolute, pos = struct.unpack('<dd', head, pos)
  timeouts = { whole(idle, 'new idle timeout'), whole(absolute, 'new absolute timeout') }
end
local owner = string.sub(head, pos)
local order, final, _, patches = read_ops(2, false)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'S' } end
-- I2a: the same commit sent again applies once; a late copy of an older one of this
-- tenure applies never.
if m.cf == fence and m.cs == id then return { 'A', m.cv } end
if m.cf == fence and m.cs > id then return { 'S' } end
tidy(m, now)
if m.o == '' or m.o ~= owner or m.f ~= fence then return { 'S' } end
local refused = resolve_patches(k, final, patches, replace_all)
if #refused > 0 then
  local out = { 'P' }
  for _, name in ipairs(refused) do out[#out + 1] = name end
  return out
end
-- The principal before, where this commit may change it (index.lua).
local touched = k.indexed and (replace_all or final[PRINCIPAL] ~= nil)
local before = touched and principal_of(k)
local fresh = apply_ops(k, m, replace_all, order, final)
m.la = now
m.cf, m.cs, m.cv = fence, id, m.v
local hk, ht = '', ''
if release then
  m.o, m.f, m.u = '', nil, nil
  if #m.q > 0 then hk, ht = 'G', m.q[1][1] end
end
save_committed(k, m, timeouts, fresh)
if touched then reindex_and_report(k, m, before or nil, now) end
if hk == '' then return { 'C', m.v } end
return { 'C', hk, ht, m.v }
