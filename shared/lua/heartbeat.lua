-- One beat of a worker, in one round trip (its thread may wait for the GIL after each
-- socket call while inference holds it, so a beat makes as few as it can): refresh the
-- worker's presence, then, for each running attempt, extend its lease and reset its
-- entry's idle time (XCLAIM by its owner, JUSTID: the delivery count stays), so
-- reclaimers leave a healthy long job alone.
-- KEYS: jobs, workers, worker, then lease and task of each attempt
-- ARGV: group, consumer, lease_ms, now, presence_ttl, worker fields (flat), then entry and
--       token of each attempt
-- Returns, per attempt: 0 (lost: stop the job), 1 (keep going) or 2 (the user cancelled).
local jobs, workers, worker = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, lease_ms = ARGV[1], ARGV[2], ARGV[3]
local now, presence_ttl = tonumber(ARGV[4]), ARGV[5]
local fields, at = fields_at(6)
redis.call('ZADD', workers, now, consumer)
redis.call('ZREMRANGEBYSCORE', workers, '-inf', now - 24 * 3600)
redis.call('HSET', worker, unpack(fields))
redis.call('EXPIRE', worker, presence_ttl)

local answers = {}
for i = 4, #KEYS, 2 do
  local lease, task = KEYS[i], KEYS[i + 1]
  local entry, token = ARGV[at], ARGV[at + 1]
  at = at + 2
  local answer = 1
  if not owns(jobs, lease, group, entry, consumer, token) then
    answer = 0
  else
    redis.call('PEXPIRE', lease, lease_ms)
    redis.call('XCLAIM', jobs, group, consumer, 0, entry, 'JUSTID')
    if redis.call('HGET', task, 'cancel_requested') == 'true' then answer = 2 end
  end
  answers[#answers + 1] = answer
end
return answers
