-- Deterministic data generator for bench/make-inputs.py, run with EVALSHA.
--
--   EVALSHA <sha> 0 <kind> <first> <count>
--
-- Creates keys <prefix>:<i> for i in [first, first+count).  Every size and
-- content is a pure function of (kind, i), so the data set does not depend on
-- how the work is chunked.  Expiries are absolute and after 2100-01-01.
local kind = ARGV[1]
local first = tonumber(ARGV[2])
local count = tonumber(ARGV[3])

local FAR_MS = 4102444800000

-- 32-bit LCG steps; all products stay below 2^53, so the arithmetic is exact.
local function mix(i, salt)
  local x = (i * 69069 + salt * 1000003 + 12345) % 4294967296
  x = (x * 69069 + 1) % 4294967296
  x = (x * 69069 + 1) % 4294967296
  return math.floor(x / 65536)
end
local function r(i, salt, m) return mix(i, salt) % m end

-- Compressible filler (English-like text, repeats every ~450 bytes).
local LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. "
local TEXT = string.rep(LOREM, 600) -- ~270 KB
local function text(off, len) off = off % 4000 + 1; return string.sub(TEXT, off, off + len - 1) end

-- Incompressible filler: 64 KiB of LCG bytes, built on first use.
local RANDOM = nil
local function random_block()
  if RANDOM then return RANDOM end
  local parts, x = {}, 12345
  for p = 1, 64 do
    local chars = {}
    for c = 1, 1024 do
      x = (x * 69069 + 1) % 4294967296
      chars[c] = math.floor(x / 16777216)
    end
    parts[p] = string.char(unpack(chars))
  end
  RANDOM = table.concat(parts)
  return RANDOM
end
local function noise(off, len)
  local blk = random_block()
  local out, have = {}, 0
  off = off % 60000 + 1
  while have < len do
    local piece = string.sub(blk, off, math.min(#blk, off + (len - have) - 1))
    out[#out + 1] = piece
    have = have + #piece
    off = 1
  end
  return table.concat(out)
end

local function maybe_expire(key, i, every)
  if r(i, 99, every) == 0 then redis.call('PEXPIREAT', key, FAR_MS + i) end
end

-- Pushes `n` generated arguments in batches of at most `batch`.
local function bulk(cmd, key, n, per, gen, batch)
  local args, j = {}, 0
  while j < n do
    local m = math.min(batch, n - j)
    args = {}
    for k = 1, m do
      local a, b = gen(j + k - 1)
      args[#args + 1] = a
      if per == 2 then args[#args + 1] = b end
    end
    redis.call(cmd, key, unpack(args))
    j = j + m
  end
end

local made = 0
for i = first, first + count - 1 do
  if kind == 'strings' then
    -- tens of millions of small strings: 10..20-byte printable values
    local key = 'k:' .. i
    local len = 10 + r(i, 1, 11)
    redis.call('SET', key, string.sub('v' .. i .. ':' .. text(i, 24), 1, len))
  elseif kind == 'int' then
    local key = 'mi:' .. i
    local c = i % 4
    local v
    if c == 0 then v = r(i, 2, 256) - 128
    elseif c == 1 then v = 1000 + r(i, 2, 30000)
    elseif c == 2 then v = 100000 + i * 7
    else v = 5000000000 + i * 13 end
    redis.call('SET', key, string.format('%d', v))
    maybe_expire(key, i, 4)
  elseif kind == 'short' then
    local key = 'ms:' .. i
    redis.call('SET', key, text(i * 7, 5 + r(i, 3, 56)))
    maybe_expire(key, i, 4)
  elseif kind == 'medium' then
    local key = 'mm:' .. i
    local len = 100 + r(i, 4, 1900)
    if i % 2 == 0 then redis.call('SET', key, text(i, len)) else redis.call('SET', key, noise(i * 31, len)) end
    maybe_expire(key, i, 4)
  elseif kind == 'large' then
    local key = 'ml:' .. i
    local len = 8192 + r(i, 5, 192000)
    if i % 2 == 0 then redis.call('SET', key, string.sub(string.rep(LOREM, math.ceil(len / #LOREM)), 1, len))
    else redis.call('SET', key, noise(i * 131, len)) end
    maybe_expire(key, i, 4)
  elseif kind == 'hsmall' then
    -- listpack hashes: <= 128 fields, values <= 64 bytes
    local key = 'hs:' .. i
    bulk('HSET', key, 1 + r(i, 6, 60), 2, function(j)
      if j % 3 == 0 then return 'field:' .. j, tostring(r(i + j, 7, 100000)) end
      return 'field:' .. j, text(i + j * 13, 1 + r(i + j, 8, 40))
    end, 500)
    maybe_expire(key, i, 4)
  elseif kind == 'hlarge' then
    -- hashtable hashes
    local key = 'hl:' .. i
    bulk('HSET', key, 500 + r(i, 9, 4500), 2, function(j)
      return 'f' .. j .. ':' .. r(j, 10, 1000), text(i + j * 17, 5 + r(i + j, 11, 56))
    end, 500)
    maybe_expire(key, i, 8)
  elseif kind == 'sint' then
    -- intsets with 16-, 32- and 64-bit members
    local key = 'si:' .. i
    local c = i % 3
    bulk('SADD', key, 3 + r(i, 12, 400), 1, function(j)
      if c == 0 then return tostring(j * 3 - 500)
      elseif c == 1 then return tostring(70000 + j * 1001)
      else return tostring(5000000000 + j * 7919) end
    end, 1000)
    maybe_expire(key, i, 4)
  elseif kind == 'sstr' then
    -- hashtable sets of strings
    local key = 'st:' .. i
    bulk('SADD', key, 50 + r(i, 13, 4950), 1, function(j)
      return 'member:' .. j .. ':' .. text(j, r(j, 14, 12))
    end, 1000)
    maybe_expire(key, i, 8)
  elseif kind == 'zsmall' then
    -- listpack sorted sets: <= 128 members, members <= 64 bytes
    local key = 'zs:' .. i
    bulk('ZADD', key, 3 + r(i, 15, 100), 2, function(j)
      local s
      if j % 3 == 0 then s = tostring(j) elseif j % 3 == 1 then s = tostring(j * 1.5) else s = tostring(-j / 7) end
      return s, 'm' .. j .. ':' .. text(i + j, r(i + j, 16, 20))
    end, 500)
    maybe_expire(key, i, 4)
  elseif kind == 'zlarge' then
    -- skiplist sorted sets
    local key = 'zl:' .. i
    bulk('ZADD', key, 200 + r(i, 17, 4800), 2, function(j)
      return tostring(r(i + j, 18, 1000000) / 1000), 'player:' .. j
    end, 500)
    maybe_expire(key, i, 8)
  elseif kind == 'lsmall' then
    local key = 'ls:' .. i
    bulk('RPUSH', key, 3 + r(i, 19, 60), 1, function(j)
      if j % 4 == 0 then return tostring(i + j) end
      return text(i + j * 5, 1 + r(i + j, 20, 20))
    end, 1000)
    maybe_expire(key, i, 4)
  elseif kind == 'llarge' then
    -- quicklists with many nodes
    local key = 'll:' .. i
    bulk('RPUSH', key, 1000 + r(i, 21, 19000), 1, function(j)
      if j % 2 == 0 then return tostring(j * 37) end
      return 'item-' .. j .. '-' .. text(j, r(j, 22, 10))
    end, 1000)
    maybe_expire(key, i, 8)
  elseif kind == 'stream' then
    -- streams: explicit ids, a field set that changes every 100 entries,
    -- deleted entries, two consumer groups with pending entries
    local key = 'sx:' .. i
    local n = 500 + r(i, 23, 5000)
    for j = 0, n - 1 do
      local id = (1700000000000 + j * 10) .. '-' .. (j % 3)
      local set = math.floor(j / 100) % 3
      if set == 0 then
        redis.call('XADD', key, id, 'sensor', tostring(j % 17), 'temp', tostring(20 + (j % 150) / 10), 'unit', 'C')
      elseif set == 1 then
        redis.call('XADD', key, id, 'user', 'u' .. (j * 7 % 1000), 'action', text(j, 4 + j % 12))
      else
        redis.call('XADD', key, id, 'payload', text(i + j, 10 + r(j, 24, 60)), 'seq', tostring(j), 'ok', '1', 'src', 'gen')
      end
    end
    for j = 0, n - 1, 37 do
      redis.call('XDEL', key, (1700000000000 + j * 10) .. '-' .. (j % 3))
    end
    redis.call('XGROUP', 'CREATE', key, 'g1', '0')
    redis.call('XGROUP', 'CREATE', key, 'g2', '$')
    for c = 1, 3 do
      redis.call('XREADGROUP', 'GROUP', 'g1', 'consumer-' .. c, 'COUNT', tostring(20 + c * 10), 'STREAMS', key, '>')
    end
    redis.call('XACK', key, 'g1', '1700000000000-0', '1700000000030-0')
    maybe_expire(key, i, 4)
  else
    return redis.error_reply('unknown kind ' .. kind)
  end
  made = made + 1
end
return made
