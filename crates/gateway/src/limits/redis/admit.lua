-- Admits one request for a key and, optionally, its user: checks every limit of both and,
-- only if all pass, counts the request, its estimated tokens, a concurrency lease and the
-- budget reservation. Atomic (one script), timed by Redis TIME, so every gateway instance
-- sees one shared, exact count.
--
-- KEYS, 4 per subject: requests hash, tokens hash, leases zset, budget counter prefix.
-- ARGV: subjects, lease id, lease ttl ms, estimated tokens, estimated cost (micros, string),
--       then 5 per subject: rpm, tpm, max concurrent (-1 = unlimited), budget limit
--       (micros, string), budget period code ('d', 'w', 'm', 't'; '' = no budget).
--
-- Windows: one hash field per second (field = unix second, value = uses); a use made in
-- second s counts until second s + 60 is over (61 buckets). Keep in step with window.rs.
-- Budget counters: "<prefix>:<period tag>", spent plus reserved micros; a request is
-- admitted while that sum is below the limit. Keep the period tags in step with period.rs.
--
-- Returns {1, second, then 7 per subject: requests limit, remaining, reset us, tokens
-- limit, remaining, reset us, budget counter name or ''} or, when refused,
-- {0, subject index (1-based), kind (1 requests, 2 tokens, 3 concurrency, 4 budget),
--  retry after us, spent (string) or '', period end (unix seconds) or -1}.

local WINDOW = 61
local GRACE = 2 * 86400

local t = redis.call('TIME')
local sec = tonumber(t[1])
local now_us = sec * 1000000 + tonumber(t[2])
local now_ms = math.floor(now_us / 1000)

local n = tonumber(ARGV[1])
local lease = ARGV[2]
local lease_ms = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local cost = ARGV[5]

local function int(x) return string.format('%.0f', x) end

-- Sums a window hash, deleting buckets that left the window; returns total and the
-- buckets oldest first.
local function window(key)
  local raw = redis.call('HGETALL', key)
  local total, list, dead = 0, {}, {}
  for i = 1, #raw, 2 do
    local s, c = tonumber(raw[i]), tonumber(raw[i + 1])
    if s + WINDOW <= sec then
      dead[#dead + 1] = raw[i]
    else
      total = total + c
      list[#list + 1] = { s, c }
    end
  end
  if #dead > 0 then redis.call('HDEL', key, unpack(dead)) end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return total, list
end

-- Microseconds until `need` more fit under `limit`.
local function wait_us(list, total, limit, need)
  local freed = 0
  for _, b in ipairs(list) do
    freed = freed + b[2]
    if need <= limit and total - freed + need <= limit then
      return (b[1] + WINDOW) * 1000000 - now_us
    end
  end
  return WINDOW * 1000000
end

-- calendar: begin (also evaluated alone by the tests that compare it with period.rs)
-- Days since the epoch -> year, month, day (Howard Hinnant's civil_from_days).
local function civil(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- Year, month, day -> days since the epoch.
local function days_from(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The period containing unix second `at`: its tag and its end (unix seconds, -1 for never).
local function period(code, at)
  local days = math.floor(at / 86400)
  if code == 'd' then
    local y, m, d = civil(days)
    return string.format('d%04d%02d%02d', y, m, d), (days + 1) * 86400
  elseif code == 'w' then
    local monday = days - (days + 3) % 7
    local y, m, d = civil(monday)
    return string.format('w%04d%02d%02d', y, m, d), (monday + 7) * 86400
  elseif code == 'm' then
    local y, m = civil(days)
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    return string.format('m%04d%02d', y, m), days_from(ny, nm, 1) * 86400
  end
  return 't', -1
end
-- calendar: end

-- Check every subject; remember what the apply pass needs.
local seen = {}
for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 5
  local rpm, tpm, maxc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local blimit, bcode = ARGV[a + 4], ARGV[a + 5]
  local s = {}
  if rpm >= 0 then
    s.rq_total, s.rq_list = window(KEYS[k + 1])
    if s.rq_total + 1 > rpm then
      return { 0, i, 1, wait_us(s.rq_list, s.rq_total, rpm, 1), '', -1 }
    end
  end
  if tpm >= 0 then
    s.tk_total, s.tk_list = window(KEYS[k + 2])
    if s.tk_total + tokens > tpm then
      return { 0, i, 2, wait_us(s.tk_list, s.tk_total, tpm, tokens), '', -1 }
    end
  end
  if maxc >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', int(now_ms))
    if redis.call('ZCARD', KEYS[k + 3]) + 1 > maxc then
      return { 0, i, 3, 0, '', -1 }
    end
  end
  if bcode ~= '' then
    local tag, ends = period(bcode, sec)
    s.budget = KEYS[k + 4] .. ':' .. tag
    s.ends = ends
    local spent = redis.call('GET', s.budget) or '0'
    if tonumber(spent) >= tonumber(blimit) then
      local wait = -1
      if ends >= 0 then wait = (ends - sec) * 1000000 end
      return { 0, i, 4, wait, spent, ends }
    end
  end
  seen[i] = s
end

-- Every check passed: count.
local out = { 1, sec }
for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 5
  local rpm, tpm, maxc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local s = seen[i]
  local rq_reset, tk_reset = 0, 0
  if rpm >= 0 then
    redis.call('HINCRBY', KEYS[k + 1], sec, 1)
    redis.call('PEXPIRE', KEYS[k + 1], (WINDOW + 1) * 1000)
    local oldest = s.rq_list[1] and s.rq_list[1][1] or sec
    rq_reset = (oldest + WINDOW) * 1000000 - now_us
  end
  if tpm >= 0 then
    if tokens > 0 then
      redis.call('HINCRBY', KEYS[k + 2], sec, tokens)
      redis.call('PEXPIRE', KEYS[k + 2], (WINDOW + 1) * 1000)
    end
    local oldest = s.tk_list[1] and s.tk_list[1][1] or (tokens > 0 and sec or nil)
    if oldest then tk_reset = (oldest + WINDOW) * 1000000 - now_us end
  end
  if maxc >= 0 then
    redis.call('ZADD', KEYS[k + 3], int(now_ms + lease_ms), lease)
    redis.call('PEXPIRE', KEYS[k + 3], lease_ms + 1000)
  end
  if s.budget then
    redis.call('INCRBY', s.budget, cost)
    if s.ends >= 0 then redis.call('EXPIREAT', s.budget, int(s.ends + GRACE)) end
  end
  local rq_left, tk_left = -1, -1
  if rpm >= 0 then rq_left = math.max(rpm - s.rq_total - 1, 0) end
  if tpm >= 0 then tk_left = math.max(tpm - s.tk_total - tokens, 0) end
  out[#out + 1] = rpm
  out[#out + 1] = rq_left
  out[#out + 1] = rq_reset
  out[#out + 1] = tpm
  out[#out + 1] = tk_left
  out[#out + 1] = tk_reset
  out[#out + 1] = s.budget or ''
end
return out
