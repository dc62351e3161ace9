-- KEYS: m, or on a cluster m a v o f x.  ARGV: none.
-- Reply: {'N'} | {'F'} | {'H', owner, holder keeps a liveness key 0|1}
-- Reads only: no access, no queue, no recall (a caller that only wants to know where
-- the session is must not move it).
if #ARGV ~= 0 then error('tenure: bad locate') end
local k = session_keys(1, #KEYS)
local now = clock()
local m = read_meta(k.m, now)
if m == nil then return { 'N' } end
if m.o == '' or m.u <= now then return { 'F' } end
return { 'H', m.o, m.ol }
