-- Worker: change a task's state, only while this attempt still owns it (fencing).
-- Terminal transitions also ack the jobs entry, drop the lease and set the retention TTL:
-- the result is already stored when this runs, so acking here never loses a job.
-- KEYS: jobs, task, events, task_events, lease, dead_letters
-- ARGV: group, entry, consumer, token, status, ttl (0 = not terminal), events_maxlen,
--       active-tasks key prefix (RedisKeys.active('')), task_id, hash fields, event fields,
--       dead-letter fields (count 0 = none)
-- Returns 'ok', 'lost' (fenced out), 'ended' (already terminal) or 'cancel' (a completion
-- arrived after the user cancelled: the caller records the cancellation instead).
local jobs, task, events, task_events, lease, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, entry, consumer, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local status, ttl, maxlen = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local active_prefix, task_id = ARGV[8], ARGV[9]
local hash, at = fields_at(10)
local event, at2 = fields_at(at)
local dead_letter = fields_at(at2)

if not owns(jobs, lease, group, entry, consumer, token) then return 'lost' end
if is_terminal(redis.call('HGET', task, 'status')) then return 'ended' end
if status == 'completed' and redis.call('HGET', task, 'cancel_requested') == 'true' then
  return 'cancel'
end
redis.call('HSET', task, 'status', status, unpack(hash))
publish(events, task_events, maxlen, event)
if #dead_letter > 0 then redis.call('XADD', dead, '*', unpack(dead_letter)) end
if ttl > 0 then
  redis.call('XACK', jobs, group, entry)
  redis.call('DEL', lease)
  redis.call('EXPIRE', task, ttl)
  redis.call('EXPIRE', task_events, ttl)
  release_client_slot(task, active_prefix, task_id)
end
return 'ok'
