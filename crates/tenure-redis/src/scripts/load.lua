-- KEYS: m.  Reply: {'N'} | {'L', version, attrs...}
if #ARGV ~= 0 then error('tenure: bad load') end
local k = session_keys(KEYS[1])
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
m.la = now
save_live(k, m, false)
return push_attrs({ 'L', m.v }, k)
