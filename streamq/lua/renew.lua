--[[ renew: keep a live node's in-flight entries from going idle, so XAUTOCLAIM never takes
  a job that is still running. Checks the owner first: XCLAIM with min-idle 0 would also
  steal an entry that another consumer has since claimed.
  KEYS[1] stream   ARGV[1] group   ARGV[2] consumer   ARGV[3..] entry ids
  Returns the entry ids this consumer no longer owns (their leases are lost) ]]
local stream_key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.call('XPENDING', stream_key, group, id, id, 1)
  if p[1] and p[1][2] == consumer then
    redis.call('XCLAIM', stream_key, group, consumer, 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
