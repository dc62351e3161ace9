-- The expiry pass (expire_pass in prelude.lua), on one server, run by every node now
-- and then (Store::maintain). KEYS: e s.  ARGV: key prefix, budget.
-- Reply: the number of sessions looked at.
local prefix = ARGV[1]
local budget = num(ARGV[2], 'budget')
if #ARGV ~= 2 or KEYS[1] ~= expiring_key(prefix) or KEYS[2] ~= log_key(prefix) then
  error('tenure: bad expire')
end
local now = clock()
local due = expire_pass(prefix, budget, now)
return #due
