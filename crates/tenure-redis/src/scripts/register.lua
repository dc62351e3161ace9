-- Puts a slot in a principal's directory (directory.lua), or moves its horizon on: run
-- by the store before the script that gives a session of that slot the principal, and
-- by the slot pass. KEYS: d.  ARGV: key prefix, principal, slot tag, horizon ahead ms,
-- at least (ms, or 'inf'), added 0|1 (a session is being given the principal; kept
-- for the reader: both stamp the field).
-- The horizon never moves back while the field lasts.
-- Reply: {the horizon now ('inf' or ms)}.
local prefix, p, tag = ARGV[1], ARGV[2], ARGV[3]
local ahead = num(ARGV[4], 'horizon ahead')
local least = score_num(ARGV[5] or '')
local added = flag(ARGV[6], 'added flag')
if #ARGV ~= 6 or least == nil or tag == nil or tag == '' then error('tenure: bad register') end
check_directory(prefix, p, KEYS[1])
local now = clock()
local was_there = redis.call('EXISTS', KEYS[1]) == 1
local h, t = parse_field(redis.call('HGET', KEYS[1], tag))
local horizon = now + ahead
if h ~= nil and h > horizon then horizon = h end
if least > horizon then horizon = least end
-- Every write stamps the field, a login's and the slot pass's: a trim within the
-- guard of either would let the pass's record (next) land on a slot registered anew.
t = now
redis.call('HSET', KEYS[1], tag, horizon_text(horizon) .. ' ' .. fmt(t))
directory_extend(KEYS[1], horizon, was_there)
return { horizon_text(horizon) }
