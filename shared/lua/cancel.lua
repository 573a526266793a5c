-- Gateway DELETE of a task that has not ended: a queued task is cancelled here and now
-- (its entry is acked by whichever worker reads it); a running one is flagged, and its
-- worker stops it at the next progress hook and records the cancellation.
-- KEYS: task, events, task_events
-- ARGV: ttl, events_maxlen, active-tasks key prefix (RedisKeys.active('')), task_id,
--       hash fields, event fields
-- Returns 'missing', 'ended', 'cancelled' or 'requested'.
local task, events, task_events = KEYS[1], KEYS[2], KEYS[3]
local ttl, maxlen, active_prefix, task_id = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local hash, at = fields_at(5)
local event = fields_at(at)
local status = redis.call('HGET', task, 'status')
if not status then return 'missing' end
if is_terminal(status) then return 'ended' end
redis.call('HSET', task, 'cancel_requested', 'true')
if status ~= 'queued' then return 'requested' end
redis.call('HSET', task, 'status', 'cancelled', unpack(hash))
publish(events, task_events, maxlen, event)
redis.call('EXPIRE', task, ttl)
redis.call('EXPIRE', task_events, ttl)
release_client_slot(task, active_prefix, task_id)
return 'cancelled'
