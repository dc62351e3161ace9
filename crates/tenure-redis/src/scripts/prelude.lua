-- Shared by every Tenure script (prepended by the Rust side).
--
-- A session is a few keys with one hash tag, so they live in one cluster slot. Scripts
-- are given the meta key only (session_keys, in values.lua, derives the others):
--   m  meta hash, one field b: the meta packed (struct, see META_FORMAT): v version,
--      c created ms, i idle ms (0 none), x absolute ms (0 none), la last access ms,
--      lf last fence granted, f lock fence, u lock lease end ms (both 0 unlocked),
--      cf cs cv: fence, commit id and resulting version of the last fenced commit
--      applied (0 before the first; kept across a release), ol 1 if the lock owner
--      keeps a liveness key (I15), kt the keys' TTL deadline in ms as last set (0:
--      unknown), a bound before which Redis does not free them (see plan_ttl); then
--      o lock owner ('' none) and q waiter queue (JSON [[owner, deadline ms, queued
--      since ms], ...] or ''). Written by earlier versions as one hash field each
--      (read_legacy), which the first save replaces.
--   a  attribute values hash;  v  attribute versions hash
--   o  the index of each value kept apart, by name;  b:<name>  its chunks (values.lua)
--   f  the last fence, kept for a while after delete or rotation
-- Times are the server's (TIME). Every script checks its input and the stored state
-- before its first write: a Lua error does not roll back what was already written.

-- Every script runs on each call, in Redis' Lua interpreter, where a function call
-- costs about a thousand instructions: on the paths every call takes, checks are
-- written as operators (`n % 1 ~= 0` for "not whole") rather than calls.

-- The script's time in ms (kept for plan_ttl) and in µs.
local script_now = nil
local function clock()
  local t = redis.call('TIME')
  local s, us = tonumber(t[1]), tonumber(t[2])
  script_now = s * 1000 + (us - us % 1000) / 1000
  return script_now, s * 1000000 + us
end

-- Exact decimal text of an integer below 2^53 (tostring would round it).
local function fmt(n)
  return string.format('%d', n)
end

local function num(s, what)
  local n = tonumber(s)
  if n == nil or n ~= n or n < 0 or n % 1 ~= 0 then
    error('tenure: bad ' .. what)
  end
  return n
end

-- A number unpacked from a packed argument: whole and not negative, else an error.
local function whole(n, what)
  if n ~= n or n < 0 or n % 1 ~= 0 then error('tenure: bad ' .. what) end
  return n
end

local function flag(s, what)
  if s == '1' then return true elseif s == '0' then return false end
  error('tenure: bad ' .. what)
end

local expires_at

-- The packed meta: 13 numbers as doubles (exact for the integers below 2^53 the
-- protocol stores, as Lua's own numbers are), then the owner and the queue, each a
-- 4-byte length and its bytes. Packing and unpacking cost a fraction of formatting
-- and parsing decimal fields (glibc's strtod and printf: about 2,000 instructions a
-- number).
local META_FORMAT = '<dddddddddddddI4c0I4c0'

-- The fields of the layout before the packed meta.
local LEGACY_FIELDS = { 'v', 'c', 'i', 'x', 'la', 'lf', 'o', 'f', 'u', 'q', 'cf', 'cs', 'cv',
  'ol', 'kt' }

local function unpack_meta(blob)
  local ok, v, c, i, x, la, lf, f, u, cf, cs, cv, ol, kt, o, q, after =
    pcall(struct.unpack, META_FORMAT, blob)
  if not ok or after ~= #blob + 1 then error('tenure: bad stored meta') end
  -- Each number whole and not negative, as num checks arguments (`n % 1 ~= 0` also
  -- holds for NaN and the infinities): operators on locals, as a call or a table per
  -- field cost more than the unpacking.
  if v < 0 or v % 1 ~= 0 or c < 0 or c % 1 ~= 0 or i < 0 or i % 1 ~= 0
    or x < 0 or x % 1 ~= 0 or la < 0 or la % 1 ~= 0 or lf < 0 or lf % 1 ~= 0
    or f < 0 or f % 1 ~= 0 or u < 0 or u % 1 ~= 0 or cf < 0 or cf % 1 ~= 0
    or cs < 0 or cs % 1 ~= 0 or cv < 0 or cv % 1 ~= 0 or ol < 0 or ol % 1 ~= 0
    or kt < 0 or kt % 1 ~= 0 then
    error('tenure: bad stored meta')
  end
  return {
    v = v, c = c, i = i, x = x, la = la, lf = lf, f = f, u = u, cf = cf, cs = cs, cv = cv,
    ol = ol, kt = kt, o = o, q = q,
  }
end

-- The meta as earlier versions stored it, one decimal field each.
local function read_legacy(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  m.v = num(m.v, 'stored version')
  m.c = num(m.c, 'stored creation time')
  m.i = num(m.i, 'stored idle timeout')
  m.x = num(m.x, 'stored absolute timeout')
  m.la = num(m.la, 'stored access time')
  m.lf = num(m.lf, 'stored fence')
  m.cf = num(m.cf or '0', 'stored commit fence')
  m.cs = num(m.cs or '0', 'stored commit id')
  m.cv = num(m.cv or '0', 'stored commit version')
  m.kt = num(m.kt or '0', 'stored key deadline')
  m.o = m.o or ''
  m.ol = num(m.ol or '0', 'stored liveness flag')
  if m.o ~= '' then
    m.f = num(m.f, 'stored lock fence')
    m.u = num(m.u, 'stored lease')
  end
  m.q = m.q or ''
  m.legacy = true
  return m
end

-- Whether the last read_meta found a meta key, live or expired (report_leftover).
local meta_found = false

-- The session's meta as a table, or nil if there is none or it has expired by `now`
-- (Redis keeps a key through the millisecond of its deadline; the protocol does not).
local function read_meta(key, now)
  local m
  meta_found = false
  local blob = redis.call('HGET', key, 'b')
  if blob then
    m = unpack_meta(blob)
  else
    local flat = redis.call('HGETALL', key)
    if #flat == 0 then return nil end
    m = read_legacy(flat)
  end
  meta_found = true
  if m.o == '' then m.f, m.u = nil, nil end
  if m.q == '' then
    m.q = {}
  else
    local ok, q = pcall(cjson.decode, m.q)
    if not ok or type(q) ~= 'table' then error('tenure: bad stored queue') end
    for _, w in ipairs(q) do
      w[2] = num(w[2], 'stored waiter deadline')
      if w[3] == nil then w[3] = now else w[3] = num(w[3], 'stored waiter start') end
    end
    m.q = q
  end
  local at = expires_at(m)
  if at ~= nil and now >= at then return nil end
  return m
end

-- Drops an expired lock and dead waiters: what every operation sees first.
local function tidy(m, now)
  if m.o ~= '' and m.u <= now then
    m.o, m.f, m.u = '', nil, nil
  end
  local live = {}
  for _, w in ipairs(m.q) do
    if w[2] > now then live[#live + 1] = w end
  end
  m.q = live
end

-- Saves the meta (replacing the legacy fields, if it was read from them).
local function save_meta(key, m)
  local q = ''
  if #m.q > 0 then
    local out = {}
    for i, w in ipairs(m.q) do out[i] = { w[1], fmt(w[2]), fmt(w[3]) } end
    q = cjson.encode(out)
  end
  local f, u = 0, 0
  if m.o ~= '' then f, u = m.f, m.u end
  local blob = struct.pack(META_FORMAT, m.v, m.c, m.i, m.x, m.la, m.lf, f, u, m.cf or 0,
    m.cs or 0, m.cv or 0, m.ol or 0, m.kt or 0, #m.o, m.o, #q, q)
  redis.call('HSET', key, 'b', blob)
  if m.legacy then
    redis.call('HDEL', key, unpack(LEGACY_FIELDS))
    m.legacy = nil
  end
end

-- The instant the session expires, in ms, or nil if it never does.
expires_at = function(m)
  local at = nil
  if m.i > 0 then at = m.la + m.i end
  if m.x > 0 then
    local abs = m.c + m.x
    if at == nil or abs < at then at = abs end
  end
  return at
end

-- Keeps the keys' TTLs at or past the session's expiry (after an access, or a write
-- that may have created a key without one: `fresh`). Redis is told to keep the keys a
-- slack past the deadline (an eighth of the time left, at least a second), and the
-- deadline it was told is kept in the meta (kt): while that still covers the session's
-- expiry by at most the slack, nothing is sent, so a busy session resets its TTLs
-- once per slack rather than on every access. Every script treats a session as gone
-- at its own deadline (read_meta); the slack only delays Redis freeing the keys.
-- Relative (PEXPIRE), because TIME inside a script can lag the clock PEXPIREAT
-- compares with: an absolute deadline a millisecond ahead of the script's clock could
-- delete the keys on the spot, mid-script; a relative one lands at or after kt.
--
-- plan_ttl decides and records the new deadline in m (to be saved with it) and
-- answers the TTL to set, or nil; set_ttl sets it, once the keys exist.
local function plan_ttl(m, fresh)
  local at = expires_at(m)
  if at == nil then return nil end
  local slack = (at - script_now) / 8
  slack = slack - slack % 1
  if slack < 1000 then slack = 1000 end
  local kt = m.kt or 0
  if not fresh and kt >= at and kt <= at + slack then return nil end
  local ttl = at + slack - script_now
  if ttl < 1 then ttl = 1 end
  m.kt = script_now + ttl
  return ttl
end

local function set_ttl(k, ttl)
  if ttl == nil then return end
  local t = fmt(ttl)
  redis.call('PEXPIRE', k.m, t)
  redis.call('PEXPIRE', k.a, t)
  redis.call('PEXPIRE', k.v, t)
  for _, name in ipairs(outboard_names(k)) do redis.call('PEXPIRE', value_key(k, name), t) end
  redis.call('PEXPIRE', k.o, t)
end

-- Saves the meta of a session that stays, with its TTLs kept (see plan_ttl).
local function save_live(k, m, fresh)
  local ttl = plan_ttl(m, fresh)
  save_meta(k.m, m)
  set_ttl(k, ttl)
  -- The index entry's score follows the keys' deadline (index.lua).
  if ttl ~= nil and k.indexed then
    local p = principal_of(k)
    if p ~= nil then index_put(k, p, m.kt, script_now) end
    expiring_put(k, m.kt)
  end
end

-- Reads a commit's new timeouts from ARGV[at .. at + 2]: replace 0|1, idle ms, absolute
-- ms (0 none). Answers {idle, absolute}, or nil when the commit keeps the session's.
-- Checks both numbers either way, so a malformed call fails before any write.
local function read_timeouts(at)
  local replace = flag(ARGV[at], 'expiry flag')
  local idle = num(ARGV[at + 1], 'new idle timeout')
  local absolute = num(ARGV[at + 2], 'new absolute timeout')
  if not replace then return nil end
  return { idle, absolute }
end

-- Ends a commit that applied: saves the meta and sets the TTLs (`fresh`: the commit
-- may have created a key). With new timeouts (`t` from read_timeouts)
-- the keys lose a TTL the session no longer has (PERSIST), and a session already past
-- its new deadline (an absolute timeout shorter than its age) is deleted now, as I5
-- has it gone for every later call.
local function save_committed(k, m, t, fresh)
  if t ~= nil then
    m.i, m.x = t[1], t[2]
    local at = expires_at(m)
    if at ~= nil and at <= script_now then
      local p = k.indexed and principal_of(k)
      if p then index_remove(k, p, script_now) end
      delete_session(k)
      m.gone = true
      event(k, 'expired')
      expiring_remove(k)
      return
    end
    if at == nil then
      m.kt = 0
      save_meta(k.m, m)
      redis.call('PERSIST', k.m)
      redis.call('PERSIST', k.a)
      redis.call('PERSIST', k.v)
      for _, name in ipairs(outboard_names(k)) do redis.call('PERSIST', value_key(k, name)) end
      redis.call('PERSIST', k.o)
      local p = k.indexed and principal_of(k)
      if p then index_put(k, p, 0, script_now) end
      expiring_remove(k)
      return
    end
    -- New timeouts: the TTLs set anew.
    fresh = true
  end
  save_live(k, m, fresh)
end

-- A fence above every fence this id was granted, and at least the server's clock in
-- microseconds, so it cannot go back even if the stored one was lost with the keys.
local function new_fence(m, now_us)
  local fence = m.lf + 1
  if now_us > fence then fence = now_us end
  m.lf = fence
  return fence
end

-- Reads ops from ARGV starting at index `at`: count, then (name, kind 's'|'r'|'p',
-- value or patch) per op. Answers the final change per name in first-seen order (the
-- last op on a name wins, as in Delta::apply_to), the expectations, and every patch
-- op in order (each must apply, not only a name's last).
local function read_ops(at, with_expect)
  local n = num(ARGV[at], 'op count')
  local width = 3
  if with_expect then width = 5 end
  if #ARGV ~= at + n * width then error('tenure: bad op list') end
  local order, final, expects, patches = {}, {}, {}, {}
  for k = 0, n - 1 do
    local base = at + 1 + k * width
    local name, kind, value = ARGV[base], ARGV[base + 1], ARGV[base + 2]
    if kind ~= 's' and kind ~= 'r' and kind ~= 'p' then error('tenure: bad op kind') end
    if final[name] == nil then order[#order + 1] = name end
    final[name] = { kind, value }
    if kind == 'p' then patches[#patches + 1] = { name, value, final[name] } end
    if with_expect then
      local ek, ev = ARGV[base + 3], ARGV[base + 4]
      if ek ~= 'any' and ek ~= 'absent' and ek ~= 'ver' then error('tenure: bad expectation') end
      if ek == 'ver' then ev = num(ev, 'expected version') end
      expects[#expects + 1] = { name, ek, ev }
    end
  end
  return order, final, expects, patches
end

-- The splices of patch `p` against the attribute's value at `version`, `base_len`
-- bytes long, as {offset, removed, first byte in p, n} each, and the result's length;
-- or nil if the patch does not apply: another base version or length, or malformed.
-- The format is tenure_core::patch's: format 1, base version (two u32), base length,
-- result length and splice count, then per splice offset, bytes removed, n and n bytes
-- inserted; all big-endian, splices in order. Reads only the patch, so checking one
-- costs nothing per byte of the value.
local function read_patch(p, version, base_len)
  local size = #p
  if size < 21 or string.byte(p, 1) ~= 1 then return nil end
  local hi, lo, blen, result_len, count = struct.unpack('>I4I4I4I4I4', p, 2)
  if hi * 4294967296 + lo ~= version or blen ~= base_len then return nil end
  if count > (size - 21) / 12 then return nil end
  local splices, pos, cursor, total = {}, 22, 0, 0
  for _ = 1, count do
    if pos + 11 > size then return nil end
    local off, del, n = struct.unpack('>I4I4I4', p, pos)
    pos = pos + 12
    if off < cursor or off + del > base_len or pos + n - 1 > size then return nil end
    splices[#splices + 1] = { off, del, pos, n }
    total = total + (off - cursor) + n
    if total > result_len then return nil end
    pos = pos + n
    cursor = off + del
  end
  if pos ~= size + 1 or total + base_len - cursor ~= result_len then return nil end
  return splices, result_len
end

-- The bytes the splices of `p` (from read_patch) make of `base`.
local function build_patched(p, splices, base)
  local parts, cursor = {}, 0
  for _, sp in ipairs(splices) do
    parts[#parts + 1] = string.sub(base, cursor + 1, sp[1])
    parts[#parts + 1] = string.sub(p, sp[3], sp[3] + sp[4] - 1)
    cursor = sp[1] + sp[2]
  end
  parts[#parts + 1] = string.sub(base, cursor + 1)
  return table.concat(parts)
end

-- Checks every patch op (from read_ops) against its attribute as stored, and replaces
-- a name's final change where that patch is the name's last op: for a value kept apart
-- by {'g', the chunk writes (plan_chunks)}, else by {'s', the patched value}. Answers
-- the names whose patch does not apply, each once; then nothing may be written (the
-- caller returns them).
local function resolve_patches(k, final, patches, replace_all)
  local refused, named, apart = {}, {}, nil
  for _, p in ipairs(patches) do
    local name, patch, change = p[1], p[2], p[3]
    local version = redis.call('HGET', k.v, name)
    local last = final[name] == change
    local ok = false
    if version then
      version = tonumber(version)
      if apart == nil then apart = outboard_set(k) end
      if apart[name] then
        local ix = index_of(k, name)
        local splices, result_len = read_patch(patch, version, ix.total)
        if splices then
          ok = true
          if last and replace_all then
            -- The commit deletes every chunk before it writes: the value whole.
            final[name] = { 's', build_patched(patch, splices, read_large(k, name)) }
          elseif last then
            local plan = plan_chunks(k, name, ix, patch, splices, result_len)
            if plan.whole then final[name] = { 's', plan.whole } else final[name] = { 'g', plan } end
          end
        end
      else
        local value = redis.call('HGET', k.a, name)
        if value then
          local splices = read_patch(patch, version, #value)
          if splices then
            ok = true
            if last then final[name] = { 's', build_patched(patch, splices, value) } end
          end
        end
      end
    end
    if not ok then
      if not named[name] then refused[#refused + 1] = name end
      named[name] = true
    end
  end
  return refused
end

-- Calls `cmd key ...items` in chunks, so long lists stay within Lua's stack; answers
-- the sum of the replies (for HSET: the fields that were new).
local function chunked(cmd, key, items, step)
  local sum = 0
  for i = 1, #items, step do
    local last = math.min(i + step - 1, #items)
    sum = sum + redis.call(cmd, key, unpack(items, i, last))
  end
  return sum
end

-- Writes attribute values given as (name, value) pairs, each large one apart (see
-- values.lua; not on a cluster), where `apart` (outboard_set) names those kept apart
-- before. Answers
-- whether a key may have been created (every field it set was new, or a value was
-- first put apart), and so lacks a TTL.
local function write_values(k, pairs, apart)
  k.pv = nil
  local inline, fresh = {}, false
  for i = 1, #pairs, 2 do
    local name, value = pairs[i], pairs[i + 1]
    if #value >= OUTBOARD and k.may_put_apart then
      if write_large(k, name, value, apart[name]) then fresh = true end
      apart[name] = true
      value = ''
    elseif apart[name] then
      redis.call('DEL', value_key(k, name))
      redis.call('HDEL', k.o, name)
      apart[name] = nil
    end
    inline[#inline + 1] = name
    inline[#inline + 1] = value
  end
  if #inline > 0 and chunked('HSET', k.a, inline, 2000) == #inline / 2 then fresh = true end
  return fresh
end

-- Applies ops as one new session version (none: the version stays). Answers whether
-- a key may have been created here, and so lacks a TTL.
local function apply_ops(k, m, replace_all, order, final)
  if #order == 0 and not replace_all then return false end
  k.pv = nil
  m.v = m.v + 1
  if replace_all then delete_session(k, true) end
  local apart = {}
  if not replace_all then apart = outboard_set(k) end
  local sets, vers, dels = {}, {}, {}
  for _, name in ipairs(order) do
    local change = final[name]
    if change[1] == 's' then
      sets[#sets + 1] = name
      sets[#sets + 1] = change[2]
    elseif change[1] == 'g' then
      apply_chunks(k, name, change[2], m.v)
    else
      dels[#dels + 1] = name
    end
    if change[1] ~= 'r' then
      vers[#vers + 1] = name
      vers[#vers + 1] = fmt(m.v)
    end
  end
  local fresh = write_values(k, sets, apart)
  if #vers > 0 and chunked('HSET', k.v, vers, 2000) == #vers / 2 then fresh = true end
  if #dels > 0 and not replace_all then
    chunked('HDEL', k.a, dels, 2000)
    chunked('HDEL', k.v, dels, 2000)
    for _, name in ipairs(dels) do
      if apart[name] then
        redis.call('DEL', value_key(k, name))
        redis.call('HDEL', k.o, name)
      end
    end
  end
  return fresh
end

-- The value of attribute `name` as the values hash holds `field`: itself, or the
-- value kept apart.
local function stored_value(k, apart, name, field)
  if not apart[name] then return field end
  return read_large(k, name)
end

-- Appends the attributes as (name, value, version) triples to `out`.
local function push_attrs(out, k)
  local values = redis.call('HGETALL', k.a)
  local vers = redis.call('HGETALL', k.v)
  local apart = outboard_set(k)
  local ver = {}
  for i = 1, #vers, 2 do ver[vers[i]] = vers[i + 1] end
  for i = 1, #values, 2 do
    local name = values[i]
    out[#out + 1] = name
    out[#out + 1] = stored_value(k, apart, name, values[i + 1])
    out[#out + 1] = tonumber(ver[name] or '0')
  end
  return out
end

-- The expiry pass (log.lua): at most `budget` sessions of the expiring set (of one
-- server, or with `tag` of that cluster slot) whose keys' deadline has passed; one that
-- is gone gets its 'expired' event and leaves the set, one still live (its deadline
-- moved without the set hearing of it) is scored again. Answers the ids looked at.
local function expire_pass(prefix, budget, now, tag)
  local set = expiring_key(prefix, tag)
  local due = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. fmt(now), 'LIMIT', 0, budget)
  for _, sid in ipairs(due) do
    local k = keys_from_meta(prefix .. ':{' .. sid .. '}:m', 1)
    if tag then k.one_server, k.tag = false, tag end
    -- A meta that does not parse must not stop the pass for every other session:
    -- it leaves the set unreported (renew.lua treats it the same way).
    local ok, m = pcall(read_meta, k.m, now)
    if not ok then
      redis.call('ZREM', set, sid)
    elseif m == nil then
      event(k, 'expired')
      expiring_remove(k)
    else
      expiring_put(k, m.kt or 0)
    end
  end
  return due
end
