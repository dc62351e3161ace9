-- KEYS: m, or on a cluster m a v o f x.  ARGV: fence linger ms, report 0|1 (write a
-- 'deleted' event: not when a failed rotation takes its copy back).
-- Reply: {0} | {1, waiting owners...}
local linger = num(ARGV[1], 'linger')
local report = flag(ARGV[2], 'report flag')
if #ARGV ~= 2 then error('tenure: bad delete') end
local k = session_keys(1, #KEYS)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 0 } end
tidy(m, now)
local out = { 1 }
for _, w in ipairs(m.q) do out[#out + 1] = w[1] end
if linger > 0 then redis.call('SET', k.f, fmt(m.lf), 'PX', fmt(linger)) end
local p = k.indexed and principal_of(k)
if p then index_remove(k, p, now) end
delete_session(k)
if report then event(k, 'deleted') end
expiring_remove(k)
return out
