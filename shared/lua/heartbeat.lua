-- Worker heartbeat for one running attempt: extend the lease and reset the entry's idle
-- time (XCLAIM by its owner, JUSTID: the delivery count stays), so reclaimers leave a
-- healthy long job alone.
-- KEYS: jobs, lease, task     ARGV: group, entry, consumer, token, lease_ms
-- Returns 0 (lost: stop the job), 1 (keep going) or 2 (the user asked to cancel).
local jobs, lease, task = KEYS[1], KEYS[2], KEYS[3]
local group, entry, consumer, token, lease_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not owns(jobs, lease, group, entry, consumer, token) then return 0 end
redis.call('PEXPIRE', lease, lease_ms)
redis.call('XCLAIM', jobs, group, consumer, 0, entry, 'JUSTID')
if redis.call('HGET', task, 'cancel_requested') == 'true' then return 2 end
return 1
