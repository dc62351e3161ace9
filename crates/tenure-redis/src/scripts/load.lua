-- KEYS: m, or on a cluster m a v o f x.  Reply: {'N'} | {'L', version, attrs...}
if #ARGV ~= 0 then error('tenure: bad load') end
local k = session_keys(1, #KEYS)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
m.la = now
-- Read before the first write: a read that fails then changes nothing.
local out = push_attrs({ 'L', m.v }, k)
save_live(k, m, false)
return out
