--[[ renew: keep a live node's in-flight entries from going idle, so XAUTOCLAIM never takes
  a job that is still running. Checks the owner first: XCLAIM with min-idle 0 would also
  steal an entry that another consumer has since claimed.
  An entry deleted (XDEL, XTRIM) while pending is not claimed: XCLAIM would silently drop
  it from the pending list, and then no XAUTOCLAIM could ever report it to recover the job.
  KEYS[1] stream   ARGV[1] group   ARGV[2] consumer   ARGV[3..] entry ids
  Returns the entry ids this consumer no longer owns, or whose entry is gone (their leases
  are lost; a deleted one stays pending for the reclaimer), every id when the group itself
  is gone ]]
local stream_key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local ok, p = pcall(redis.call, 'XPENDING', stream_key, group, id, id, 1)
  if ok and p[1] and p[1][2] == consumer and #redis.call('XRANGE', stream_key, id, id) > 0 then
    redis.call('XCLAIM', stream_key, group, consumer, 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
