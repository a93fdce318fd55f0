-- Settles one admitted request for a key and, optionally, its user: reconciles the counted
-- tokens to the actual count, frees the concurrency lease and moves the budget counter by
-- (actual cost - reserved). Atomic, one script; keep in step with admit.lua.
--
-- KEYS, 3 per subject: tokens hash, leases zset, budget counter (may be unused).
-- ARGV: subjects, lease id, bucket second, token delta, cost delta (micros, string),
--       then 3 flags per subject ('1' or '0'): tokens counted, lease held, budget reserved.

local WINDOW = 61

local sec = tonumber(redis.call('TIME')[1])
local n = tonumber(ARGV[1])
local lease = ARGV[2]
local bucket = ARGV[3]
local token_delta = tonumber(ARGV[4])
local cost_delta = ARGV[5]

for i = 1, n do
  local k, a = (i - 1) * 3, 5 + (i - 1) * 3
  if ARGV[a + 1] == '1' and token_delta ~= 0 and tonumber(bucket) + WINDOW > sec then
    local left = redis.call('HINCRBY', KEYS[k + 1], bucket, token_delta)
    if left <= 0 then redis.call('HDEL', KEYS[k + 1], bucket) end
    if redis.call('PTTL', KEYS[k + 1]) < 0 then
      redis.call('PEXPIRE', KEYS[k + 1], (WINDOW + 1) * 1000)
    end
  end
  if ARGV[a + 2] == '1' then
    redis.call('ZREM', KEYS[k + 2], lease)
  end
  if ARGV[a + 3] == '1' and cost_delta ~= '0' and redis.call('EXISTS', KEYS[k + 3]) == 1 then
    redis.call('INCRBY', KEYS[k + 3], cost_delta)
  end
end
return 1
