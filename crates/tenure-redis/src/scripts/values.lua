-- Shared by every Tenure script, before prelude.lua: where a session's keys and its
-- attribute values are, and patches applied to large values in place.
--
-- On one server a script is given the meta key of a session only ('P:{S}:m');
-- session_keys derives the others, so a call names one key per session (about 45
-- bytes less on the wire for each key left out). They share its hash tag, so its slot:
-- Redis lets a script touch keys it was not given when they are in the slot it runs
-- in. On a cluster it is given the five fixed keys (meta, values, versions, index,
-- fence) and the slot key 'P:x:{T}' (index.lua), T a tag of the session's slot: Redis checks declared keys are all on the node before the script runs, and
-- answers TRYAGAIN while a slot migration has moved only some of them, where a script
-- touching undeclared keys could run on half a session. A value's chunk key cannot be
-- declared (its name is known only from the index), so on a cluster values are not
-- put apart (write_values).
--
-- A value of at least OUTBOARD bytes is kept apart, in chunks: the hash 'P:{S}:b:<name>'
-- holds the chunks by id, the field <name> of 'P:{S}:o' their order and lengths (the
-- index: next chunk id, the patch log's first and next entry and its bytes, the chunk
-- count; then id and length per chunk: struct '>ddddI4', then '>dI4' each), and the
-- value's field in the values hash holds ''. A patch then rewrites only the
-- chunks its splices touch: making a Lua string of a value (HGET, string.sub, the
-- patched result) costs about 1.3 ns a byte, 66 µs for 50 KB, more than all else a
-- commit does; a 4 KB chunk costs about 10 µs. A value written whole is one chunk (no
-- Lua string is made of it); the first patch splits what it touches into chunks of
-- about CHUNK bytes. Chunks are never merged; a value whose chunks average under half
-- of CHUNK is cut anew on its next patch, so the index stays small.
--
-- The same hash keeps the value's recent patches (fields 'l<n>': the version the patch
-- made, struct '>d', then the patch), up to half the value's size, oldest dropped
-- first; a whole write clears them. A takeover by a node whose copy has the value at a
-- version the log starts from is sent those patches instead of the value (log_chain).

local OUTBOARD = 8192
local CHUNK = 4096
-- A patched value under this is kept in the values hash again (half of OUTBOARD, so a
-- value near the line does not move at every write).
local INLINE_BELOW = 4096

-- The keys of the session whose keys start at KEYS[at]: `per` of them, 1 (the meta key)
-- or 6 (meta, values, versions, index, fence, each checked against the derived name,
-- and the slot key). k.indexed: the scripts keep the principal index (index.lua); a
-- session met by a listing or an expiry pass (keys_from_meta, with no slot key) has
-- its index left alone; the expiry pass sets k.tag on a cluster for its events.
local function keys_from_meta(km, per)
  if type(km) ~= 'string' or string.sub(km, -2) ~= ':m' then error('tenure: bad key') end
  local base = string.sub(km, 1, -2)
  return {
    m = km, a = base .. 'a', v = base .. 'v', f = base .. 'f', o = base .. 'o', b = base .. 'b:',
    may_put_apart = per == 1, one_server = per == 1, indexed = per == 1,
  }
end

local function session_keys(at, per)
  local km = KEYS[at]
  local k = keys_from_meta(km, per)
  if per == 6 then
    if KEYS[at + 1] ~= k.a or KEYS[at + 2] ~= k.v or KEYS[at + 3] ~= k.o
      or KEYS[at + 4] ~= k.f then
      error('tenure: bad keys')
    end
    k.x = KEYS[at + 5]
    k.tag = type(k.x) == 'string' and string.match(k.x, ':x:{([^{}]*)}$')
    if not k.tag then error('tenure: bad keys') end
    k.indexed = true
  elseif per ~= 1 then
    error('tenure: bad keys')
  end
  return k
end

-- The hash holding the chunks of the value of `name`.
local function value_key(k, name)
  return k.b .. name
end

-- The names of the session's values kept apart.
local function outboard_names(k)
  return redis.call('HKEYS', k.o)
end

-- The same, as a set.
local function outboard_set(k)
  local set = {}
  for _, name in ipairs(outboard_names(k)) do set[name] = true end
  return set
end

-- Deletes the session's keys (meta, values, versions, the values kept apart), all but
-- the meta with `keep_meta`; the lingering fence key stays.
local function delete_session(k, keep_meta)
  k.pv = nil
  local dead = { k.a, k.v, k.o }
  if not keep_meta then dead[#dead + 1] = k.m end
  for _, name in ipairs(outboard_names(k)) do dead[#dead + 1] = value_key(k, name) end
  for i = 1, #dead, 1000 do
    redis.call('DEL', unpack(dead, i, math.min(i + 999, #dead)))
  end
end

-- The index of a value kept apart: {next chunk id, log first, log next, log bytes, ids,
-- lens, total length}. Unpacked and packed 500 chunks per struct call, within Lua's
-- stack.
local INDEX_HEAD = '>ddddI4'
local function read_index(blob)
  local bad = type(blob) ~= 'string' or #blob < 36 or (#blob - 36) % 12 ~= 0
  if bad then error('tenure: bad stored value index') end
  local nxt, lf, ln, lb, count, pos = struct.unpack(INDEX_HEAD, blob)
  if count ~= (#blob - 36) / 12 or lf > ln then error('tenure: bad stored value index') end
  local ix = { next = nxt, lf = lf, ln = ln, lb = lb, ids = {}, lens = {}, total = 0 }
  local i = 0
  while i < count do
    local step = math.min(500, count - i)
    local vals = { struct.unpack(string.rep('>dI4', step), blob, pos) }
    pos = vals[#vals]
    for j = 1, step do
      ix.ids[i + j], ix.lens[i + j] = vals[2 * j - 1], vals[2 * j]
      ix.total = ix.total + vals[2 * j]
    end
    i = i + step
  end
  return ix
end

local function pack_index(ix)
  local parts = { struct.pack(INDEX_HEAD, ix.next, ix.lf, ix.ln, ix.lb, #ix.ids) }
  local i = 0
  while i < #ix.ids do
    local step = math.min(500, #ix.ids - i)
    local vals = {}
    for j = 1, step do
      vals[2 * j - 1], vals[2 * j] = ix.ids[i + j], ix.lens[i + j]
    end
    parts[#parts + 1] = struct.pack(string.rep('>dI4', step), unpack(vals))
    i = i + step
  end
  return table.concat(parts)
end

local function index_of(k, name)
  return read_index(redis.call('HGET', k.o, name))
end

local function id_text(id)
  return string.format('%d', id)
end

-- Chunks first..last of a value kept apart, joined, each checked against its length.
local function read_chunks(k, name, ix, first, last)
  local parts = {}
  for i = first, last, 1000 do
    local upto = math.min(i + 999, last)
    local ids = {}
    for j = i, upto do ids[#ids + 1] = id_text(ix.ids[j]) end
    local got = redis.call('HMGET', value_key(k, name), unpack(ids))
    for j = i, upto do
      local chunk = got[j - i + 1]
      if not chunk or #chunk ~= ix.lens[j] then error('tenure: bad stored value') end
      parts[#parts + 1] = chunk
    end
  end
  return table.concat(parts)
end

-- The whole value of `name`, kept apart.
local function read_large(k, name)
  local ix = index_of(k, name)
  return read_chunks(k, name, ix, 1, #ix.ids)
end

local function hdel_all(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end

-- Writes `value` (at least OUTBOARD bytes) whole, as one chunk, in place of what
-- `name` had apart (`was`: it had), and clears its patch log. Answers whether a key
-- was created.
local function write_large(k, name, value, was)
  local old = nil
  -- A chunk hash that is gone (evicted) is made anew here, without a TTL.
  local created = not was or redis.call('EXISTS', value_key(k, name)) == 0
  if was then old = index_of(k, name) end
  local ix = { next = 1, lf = 1, ln = 1, lb = 0, ids = {}, lens = {} }
  if old then ix.next, ix.lf, ix.ln = old.next, old.ln, old.ln end
  local id = ix.next
  redis.call('HSET', value_key(k, name), id_text(id), value)
  if old then
    local dead = {}
    for _, i in ipairs(old.ids) do dead[#dead + 1] = id_text(i) end
    for n = old.lf, old.ln - 1 do dead[#dead + 1] = 'l' .. id_text(n) end
    hdel_all(value_key(k, name), dead)
  end
  ix.next, ix.ids, ix.lens = id + 1, { id }, { #value }
  redis.call('HSET', k.o, name, pack_index(ix))
  return created
end

-- The bytes `s` cut into pieces of about CHUNK bytes, evenly (none if empty).
local function cut(s)
  local n = math.ceil(#s / CHUNK)
  local out, at = {}, 0
  for i = 1, n do
    local upto = math.floor(#s * i / n)
    out[#out + 1] = string.sub(s, at + 1, upto)
    at = upto
  end
  return out
end

-- The chunk holding byte `off` (0-based; the last chunk for the end of the value).
local function chunk_at(starts, n, off)
  local lo, hi = 1, n
  while lo < hi do
    local mid = math.ceil((lo + hi) / 2)
    if starts[mid] <= off then lo = mid else hi = mid - 1 end
  end
  return lo
end

-- The writes that apply splices (from read_patch, whose bytes are in `p`) to the value
-- of `name`, kept apart with index `ix`: {set = (id, chunk) pairs, del = ids, index =
-- the new index, patch, total = the new length}, written by apply_chunks. Reads only the chunks the splices
-- touch (all of them when the chunks are cut anew). Or, when the result is under
-- INLINE_BELOW, {whole = the patched value}, to be written to the values hash.
local function plan_chunks(k, name, ix, p, splices, result_len)
  local n = #ix.ids
  local starts, at = {}, 0
  for i = 1, n do starts[i], at = at, at + ix.lens[i] end
  -- Groups of splices and the chunks they touch, in order; touching chunks merge.
  local groups = {}
  local recut = n > 4 + 2 * ix.total / CHUNK or result_len < INLINE_BELOW
  for _, sp in ipairs(splices) do
    local first, last = 1, n
    if not recut then
      first = chunk_at(starts, n, sp[1])
      last = first
      if sp[2] > 0 then last = chunk_at(starts, n, sp[1] + sp[2] - 1) end
    end
    local g = groups[#groups]
    if g and g.last >= first then
      if last > g.last then g.last = last end
      g.splices[#g.splices + 1] = sp
    else
      groups[#groups + 1] = { first = first, last = last, splices = { sp } }
    end
  end
  local ids, lens, set, del = {}, {}, {}, {}
  local nxt, done = ix.next, 0
  for _, g in ipairs(groups) do
    for i = done + 1, g.first - 1 do ids[#ids + 1], lens[#lens + 1] = ix.ids[i], ix.lens[i] end
    local base = starts[g.first]
    local seg = read_chunks(k, name, ix, g.first, g.last)
    local parts, cursor = {}, 0
    for _, sp in ipairs(g.splices) do
      parts[#parts + 1] = string.sub(seg, cursor + 1, sp[1] - base)
      parts[#parts + 1] = string.sub(p, sp[3], sp[3] + sp[4] - 1)
      cursor = sp[1] - base + sp[2]
    end
    parts[#parts + 1] = string.sub(seg, cursor + 1)
    local new = table.concat(parts)
    if result_len < INLINE_BELOW then return { whole = new } end
    for _, piece in ipairs(cut(new)) do
      ids[#ids + 1], lens[#lens + 1] = nxt, #piece
      set[#set + 1], set[#set + 2] = id_text(nxt), piece
      nxt = nxt + 1
    end
    for i = g.first, g.last do del[#del + 1] = id_text(ix.ids[i]) end
    done = g.last
  end
  for i = done + 1, n do ids[#ids + 1], lens[#lens + 1] = ix.ids[i], ix.lens[i] end
  local new_ix = { next = nxt, lf = ix.lf, ln = ix.ln, lb = ix.lb, ids = ids, lens = lens }
  return { set = set, del = del, index = new_ix, patch = p, total = result_len }
end

-- Writes a plan of plan_chunks, whose patch made `version`: new chunks first, so the
-- hash never empties (and keeps its TTL; new ids are above every old one), then the
-- patch into the log, dropping the oldest entries past half the value's size.
local function apply_chunks(k, name, plan, version)
  local key = value_key(k, name)
  for i = 1, #plan.set, 2000 do
    redis.call('HSET', key, unpack(plan.set, i, math.min(i + 1999, #plan.set)))
  end
  local ix = plan.index
  local entry = struct.pack('>d', version) .. plan.patch
  redis.call('HSET', key, 'l' .. id_text(ix.ln), entry)
  ix.ln, ix.lb = ix.ln + 1, ix.lb + #entry
  local dead = plan.del
  while ix.lb > plan.total / 2 and ix.lf < ix.ln do
    local field = 'l' .. id_text(ix.lf)
    ix.lb = ix.lb - redis.call('HSTRLEN', key, field)
    dead[#dead + 1] = field
    ix.lf = ix.lf + 1
  end
  hdel_all(key, dead)
  redis.call('HSET', k.o, name, pack_index(ix))
end

-- The patches that make the value of `name` (kept apart) at version `to` from its
-- value at version `from`, oldest first, from its patch log; or nil if the log does
-- not reach back to `from` or a link is missing.
local function log_chain(k, name, from, to)
  local ix = index_of(k, name)
  if ix.lf >= ix.ln then return nil end
  local fields = {}
  for n = ix.lf, ix.ln - 1 do fields[#fields + 1] = 'l' .. id_text(n) end
  local entries = {}
  for i = 1, #fields, 1000 do
    local got = redis.call('HMGET', value_key(k, name), unpack(fields, i, math.min(i + 999, #fields)))
    for _, e in ipairs(got) do entries[#entries + 1] = e end
  end
  local chain, at = nil, from
  for _, e in ipairs(entries) do
    if type(e) ~= 'string' or #e < 29 then return nil end
    local made = struct.unpack('>d', e)
    local hi, lo = struct.unpack('>I4I4', e, 10)
    local base = hi * 4294967296 + lo
    if chain == nil and base == from then chain = {} end
    if chain ~= nil then
      if base ~= at then return nil end
      chain[#chain + 1] = string.sub(e, 9)
      at = made
    end
  end
  if chain == nil or at ~= to then return nil end
  return chain
end
