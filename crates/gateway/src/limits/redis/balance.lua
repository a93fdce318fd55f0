-- A billed user's balance counters, shared by every instance: one hash per user with
-- `charged` (reservations and settled charges, cumulative), `written` (the part written to
-- the database, cumulative) and `epoch` (set when the hash is created: a snapshot taken
-- against an older hash, e.g. before Redis lost its data, does not apply to a new one).
-- See limits/balance.rs for the arithmetic; keep the two in step.
--
-- KEYS[1]: the user's hash. ARGV[1]: the operation, then:
--   mark    ARGV[2] epoch for a new hash            -> {written, epoch}
--   reserve ARGV[2] epoch for a new hash, ARGV[3] balance read, ARGV[4] mark read before it,
--           ARGV[5] the mark's epoch, ARGV[6] cost   -> {1 or 0, available, epoch}
--   settle  ARGV[2] epoch of the reservation, ARGV[3] delta to `charged`  -> {1}
--   written ARGV[2] epoch of the reservation, ARGV[3] amount written      -> {1}

local k = KEYS[1]
local op = ARGV[1]

local function epoch(new)
  local e = redis.call('HGET', k, 'epoch')
  if not e then
    redis.call('HSET', k, 'epoch', new)
    e = new
  end
  return e
end

if op == 'mark' then
  local e = epoch(ARGV[2])
  return { redis.call('HGET', k, 'written') or '0', e }
elseif op == 'reserve' then
  local e = epoch(ARGV[2])
  local mark = 0
  if e == ARGV[5] then mark = tonumber(ARGV[4]) end
  local charged = tonumber(redis.call('HGET', k, 'charged') or '0')
  local available = tonumber(ARGV[3]) - (charged - mark)
  local cost = tonumber(ARGV[6])
  if available < cost or available <= 0 then
    return { 0, string.format('%.0f', available), e }
  end
  redis.call('HINCRBY', k, 'charged', ARGV[6])
  return { 1, string.format('%.0f', available), e }
elseif op == 'settle' or op == 'written' then
  if redis.call('HGET', k, 'epoch') == ARGV[2] then
    local field = 'written'
    if op == 'settle' then field = 'charged' end
    redis.call('HINCRBY', k, field, ARGV[3])
  end
  return { 1 }
end
return redis.error_reply('unknown balance operation')
