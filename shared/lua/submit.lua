-- Gateway: accept one task. Idempotency, per-client limits, job entry, task hash and
-- "queued" event happen together or not at all.
-- KEYS: jobs, task, events, task_events, idempotency (a name in the namespace even when the
--       job has no key, so ACLs restricted to the prefix allow it), client uploads
--       (sorted set), client active tasks (set)
-- ARGV: task_id, ttl (retention), events_maxlen, now, max_uploads_per_hour,
--       max_active_tasks, use_idempotency ('1'/'0'), job fields, hash fields, event fields
-- Returns {'queued', entry}, {'duplicate', first task id}, {'rate', retry after seconds}
-- or {'busy', ''}.
local jobs, task, events, task_events, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local uploads, active = KEYS[6], KEYS[7]
local task_id, ttl, maxlen = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now, max_uploads, max_active = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local use_idem = ARGV[7] == '1'
local job, at = fields_at(8)
local hash, at2 = fields_at(at)
local event = fields_at(at2)

if use_idem then
  local existing = redis.call('GET', idem)
  if existing then return {'duplicate', existing} end
end
if max_uploads > 0 then
  redis.call('ZREMRANGEBYSCORE', uploads, '-inf', now - 3600)
  if redis.call('ZCARD', uploads) >= max_uploads then
    local oldest = redis.call('ZRANGE', uploads, 0, 0, 'WITHSCORES')
    return {'rate', tostring(math.ceil(tonumber(oldest[2]) + 3600 - now))}
  end
end
if max_active > 0 and redis.call('SCARD', active) >= max_active then return {'busy', ''} end

if use_idem then redis.call('SET', idem, task_id, 'EX', ttl) end
local entry = redis.call('XADD', jobs, '*', unpack(job))
redis.call('HSET', task, 'entry_id', entry, unpack(hash))
redis.call('EXPIRE', task, ttl)
publish(events, task_events, maxlen, event)
redis.call('EXPIRE', task_events, ttl)
redis.call('ZADD', uploads, now, task_id)
redis.call('EXPIRE', uploads, 3600)
redis.call('SADD', active, task_id)
redis.call('EXPIRE', active, ttl)
return {'queued', entry}
