-- Takes the slots an events read or a maintain pass must visit (log.lua): up to
-- `budget` pending slots (taken out of the set) and up to `budget` slots whose
-- scheduled expiry is due (taken out of the due set; the pass puts each back with its
-- next deadline). Taken first, so an operation that marks a slot after this call
-- leaves it marked for the next. KEYS: p d.  ARGV: key prefix, budget.
-- Reply: {pending count, pending tags..., due tags...}
local prefix = ARGV[1]
local budget = num(ARGV[2], 'budget')
if #ARGV ~= 2 or KEYS[1] ~= prefix .. ':{events}:pending'
  or KEYS[2] ~= prefix .. ':{events}:due' then
  error('tenure: bad take')
end
local now = clock()
local pending = redis.call('SPOP', KEYS[1], budget)
local out = { #pending }
for _, t in ipairs(pending) do out[#out + 1] = t end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', fmt(now), 'LIMIT', 0, budget)
if #due > 0 then chunked('ZREM', KEYS[2], due, 1000) end
for _, t in ipairs(due) do out[#out + 1] = t end
return out
