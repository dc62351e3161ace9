-- After an operation on a cluster that wrote an event or gave a session a deadline:
-- marks its slot for the next events read (the pending set) and, with a deadline,
-- schedules the slot's expiry pass no later than it (the due set, scored with the
-- earliest deadline known; kept earlier, never moved later here). Both are in the
-- log's slot (log.lua). KEYS: p d.  ARGV: key prefix, slot tag, event 0|1, deadline
-- from now ms (0 none).
-- Reply: 1.
local prefix, tag = ARGV[1], ARGV[2]
local ev = flag(ARGV[3], 'event flag')
local ahead = num(ARGV[4], 'deadline')
if #ARGV ~= 4 or tag == nil or tag == '' or KEYS[1] ~= prefix .. ':{events}:pending'
  or KEYS[2] ~= prefix .. ':{events}:due' then
  error('tenure: bad schedule')
end
if ev then redis.call('SADD', KEYS[1], tag) end
if ahead > 0 then redis.call('ZADD', KEYS[2], 'LT', fmt(clock() + ahead), tag) end
return 1
