-- Reads a session for an operator, changing nothing. KEYS: m, or on a cluster m a v o f x.
-- Reply: {'N'} | {'I', now ms, version, created, idle, absolute, last access, last
--         fence, lock owner, lock fence, lease end, queue JSON, attrs...}
if #ARGV ~= 0 then error('tenure: bad inspect') end
local k = session_keys(1, #KEYS)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
local q = {}
for i, w in ipairs(m.q) do q[i] = { w[1], fmt(w[2]) } end
local queue = ''
if #q > 0 then queue = cjson.encode(q) end
local out = { 'I', now, m.v, m.c, m.i, m.x, m.la, m.lf, m.o, m.f or 0, m.u or 0, queue }
return push_attrs(out, k)
