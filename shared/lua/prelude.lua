-- Shared by every script (prepended by shared/scripts.py).

-- Flat field list from ARGV: a count at `at`, then that many values; returns list, next index.
local function fields_at(at)
  local count = tonumber(ARGV[at])
  local values = {}
  for i = 1, count do values[i] = ARGV[at + i] end
  return values, at + count + 1
end

-- A task attempt is still ours when both the fencing token and the consumer group agree:
-- the lease key holds our token and the jobs entry is pending under our consumer name.
local function owns(jobs, lease, group, entry, consumer, token)
  if redis.call('GET', lease) ~= token then return false end
  local pending = redis.call('XPENDING', jobs, group, entry, entry, 1)
  return pending[1] ~= nil and pending[1][2] == consumer
end

local function is_terminal(status)
  return status == 'completed' or status == 'failed' or status == 'cancelled'
end

-- Append an event to the shared events stream and to the task's own stream.
local function publish(events, task_events, maxlen, event)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', unpack(event))
  redis.call('XADD', task_events, 'MAXLEN', '~', 1000, '*', unpack(event))
end

-- A task that ended no longer counts against its client's limit of unfinished tasks.
-- The set's name is RedisKeys.active(client), given as its prefix plus the client named in
-- the hash (standalone Redis: keys need not be declared).
local function release_client_slot(task, active_prefix, task_id)
  local client = redis.call('HGET', task, 'client')
  if client and client ~= '' then
    redis.call('SREM', active_prefix .. client, task_id)
  end
end
