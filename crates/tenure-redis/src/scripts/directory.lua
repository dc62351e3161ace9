-- Shared by the directory scripts (register, slots_of, trim), after prelude.lua: a
-- principal's directory on a cluster (index.lua). 'P:d:{<p as hex>}' is a hash, one
-- field per slot tag that may hold p's index entries, valued '<horizon> <added>': the
-- horizon (ms, or 'inf') no entry of that shard is scored past, and when a session of
-- that slot was last given p (ms by this server's clock: both times are written and
-- read here). The hash's TTL is its highest horizon.

local function directory_key(prefix, p)
  return prefix .. ':d:{' .. hex(p) .. '}'
end

local function horizon_text(h)
  if h == math.huge then return 'inf' end
  return fmt(h)
end

-- A field's horizon and added time, or nil for a value that does not parse.
local function parse_field(v)
  local h, t = string.match(v or '', '^(%S+) (%d+)$')
  h = score_num(h or '')
  if h == nil then return nil end
  return h, tonumber(t)
end

-- Gives the directory the TTL of its highest horizon.
local function directory_ttl(d, now)
  local top = nil
  for _, v in ipairs(redis.call('HVALS', d)) do
    local h = parse_field(v)
    if h ~= nil and (top == nil or h > top) then top = h end
  end
  if top == nil then return end
  if top == math.huge then
    redis.call('PERSIST', d)
    return
  end
  local ttl = top - now
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', d, fmt(ttl))
end

-- After a horizon `h` was written: the TTL moved on to it if it is later (horizons
-- never move back while their field lasts, so a write never shortens the TTL; one
-- step, where directory_ttl reads every field). `was_there`: the hash existed before.
local function directory_extend(d, h, was_there)
  if h == math.huge then
    redis.call('PERSIST', d)
    return
  end
  local at = redis.call('PEXPIRETIME', d)
  -- No TTL on a hash that was there: a horizon of +inf holds it.
  if at == -1 and was_there then return end
  if at < h then redis.call('PEXPIREAT', d, fmt(h)) end
end

local function check_directory(prefix, p, d)
  if prefix == nil or p == nil or p == '' or d ~= directory_key(prefix, p) then
    error('tenure: bad directory key')
  end
end
