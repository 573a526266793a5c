-- Worker: take ownership of a jobs entry it was just delivered (XREADGROUP or XAUTOCLAIM).
-- KEYS: jobs, task, lease, idempotency (a name in the namespace even without a key)
-- ARGV: group, entry, consumer, token, lease_ms, task_id, ttl, use_idempotency ('1'/'0'),
--       new-task hash fields (used when the task was XADDed directly and has no hash yet)
-- Returns {code, deliveries, cancel_requested}; code is
--   'lost'       the entry is no longer pending under this consumer
--   'duplicate'  the task belongs to another entry, or the idempotency key to another task
--                (a repeated XADD): acked, skipped
--   'terminal'   the task already ended (cancelled while queued...): acked, skipped
--   'ok'         lease set: the caller now owns this attempt
local jobs, task, lease, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, entry, consumer, token, lease_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local task_id, ttl, use_idem = ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'
local new_task = fields_at(9)

local pending = redis.call('XPENDING', jobs, group, entry, entry, 1)
if pending[1] == nil or pending[1][2] ~= consumer then return {'lost', 0, 0} end
local deliveries = pending[1][4]

if use_idem then
  local first = redis.call('GET', idem)
  if first and first ~= task_id then
    redis.call('XACK', jobs, group, entry)
    return {'duplicate', deliveries, 0}
  end
  redis.call('SET', idem, task_id, 'EX', ttl)
end

if redis.call('EXISTS', task) == 1 then
  local owner_entry = redis.call('HGET', task, 'entry_id')
  if owner_entry and owner_entry ~= entry then
    redis.call('XACK', jobs, group, entry)
    return {'duplicate', deliveries, 0}
  end
  if is_terminal(redis.call('HGET', task, 'status')) then
    redis.call('XACK', jobs, group, entry)
    return {'terminal', deliveries, 0}
  end
else
  redis.call('HSET', task, 'entry_id', entry, unpack(new_task))
  redis.call('EXPIRE', task, ttl)
end
redis.call('SET', lease, token, 'PX', lease_ms)
local cancel = redis.call('HGET', task, 'cancel_requested') == 'true' and 1 or 0
return {'ok', deliveries, cancel}
