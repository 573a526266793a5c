-- Worker shutting down: hand a running attempt back at once. The entry stays pending but
-- looks idle for idle_ms, so the next reclaim scan of any worker takes it; its delivery
-- count is put back, since this attempt did not fail.
-- KEYS: jobs, lease, task, events, task_events
-- ARGV: group, entry, consumer, token, idle_ms, deliveries, events_maxlen, hash fields,
--       event fields
local jobs, lease, task, events, task_events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local group, entry, consumer, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local idle_ms, deliveries, maxlen = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local hash, at = fields_at(8)
local event = fields_at(at)
if not owns(jobs, lease, group, entry, consumer, token) then return 'lost' end
redis.call('XCLAIM', jobs, group, consumer, 0, entry, 'IDLE', idle_ms,
  'RETRYCOUNT', math.max(deliveries - 1, 0), 'JUSTID')
redis.call('DEL', lease)
redis.call('HSET', task, unpack(hash))
publish(events, task_events, maxlen, event)
return 'ok'
