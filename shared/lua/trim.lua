-- Trim the jobs stream below the oldest entry still needed: the oldest pending (unacked)
-- entry, or the first one not yet delivered to the group. Never drops an unacked job.
-- KEYS: jobs     ARGV: group     Returns the number of entries removed.
local jobs, group = KEYS[1], ARGV[1]
if redis.call('EXISTS', jobs) == 0 then return 0 end
local last_delivered = nil
for _, info in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['name'] == group then last_delivered = fields['last-delivered-id'] end
end
if not last_delivered then return 0 end
local ms, seq = string.match(last_delivered, '^(%d+)-(%d+)$')
local min_id = ms .. '-' .. (tonumber(seq) + 1)
local summary = redis.call('XPENDING', jobs, group)
if summary[1] > 0 then min_id = summary[2] end
return redis.call('XTRIM', jobs, 'MINID', min_id)
