-- KEYS: m, or on a cluster m a v o f x.  ARGV: replace all 0|1, new timeouts (3, see read_timeouts), ops with
-- expectations (see read_ops).
-- Reply: {'N'} | {'L'} | {'X', conflicting names...} | {'C', version} |
-- {'P', names of attributes whose patch does not apply...} (nothing applied)
local k = session_keys(1, #KEYS)
local replace_all = flag(ARGV[1], 'replace all')
local timeouts = read_timeouts(2)
local order, final, expects, patches = read_ops(5, true)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
tidy(m, now)
if m.o ~= '' then return { 'L' } end
local conflicts = {}
for _, e in ipairs(expects) do
  local name, kind, want = e[1], e[2], e[3]
  local bad = false
  if kind ~= 'any' then
    local current = redis.call('HGET', k.v, name)
    if kind == 'absent' then
      bad = current ~= false
    else
      bad = current == false or tonumber(current) ~= want
    end
  end
  if bad and conflicts[#conflicts] ~= name then conflicts[#conflicts + 1] = name end
end
if #conflicts > 0 then
  local out = { 'X' }
  for _, name in ipairs(conflicts) do out[#out + 1] = name end
  return out
end
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
save_committed(k, m, timeouts, fresh)
if touched then reindex_and_report(k, m, before or nil, now) end
return { 'C', m.v }
