-- Gateway: accept one task. Idempotency check, job entry, task hash and "queued" event
-- happen together or not at all.
-- KEYS: jobs, task, events, task_events, idempotency ('' when none)
-- ARGV: task_id, ttl (retention: idempotency key, task hash), events_maxlen, job fields, hash fields, event fields
local jobs, task, events, task_events, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local task_id, ttl, maxlen = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local job, at = fields_at(4)
local hash, at2 = fields_at(at)
local event = fields_at(at2)

if idem ~= '' then
  local existing = redis.call('GET', idem)
  if existing then return {'duplicate', existing} end
  redis.call('SET', idem, task_id, 'EX', ttl)
end
local entry = redis.call('XADD', jobs, '*', unpack(job))
redis.call('HSET', task, 'entry_id', entry, unpack(hash))
redis.call('EXPIRE', task, ttl)
publish(events, task_events, maxlen, event)
redis.call('EXPIRE', task_events, ttl)
return {'queued', entry}
