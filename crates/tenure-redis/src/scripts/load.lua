-- KEYS: m a v.  Reply: {'N'} | {'L', version, attrs...}
if #ARGV ~= 0 then error('tenure: bad load') end
local now = clock()
local m = read_meta(KEYS[1], now)
if m == nil then return { 'N' } end
m.la = now
save_live(KEYS[1], KEYS[2], KEYS[3], m, false)
return push_attrs({ 'L', m.v }, KEYS[2], KEYS[3])
