--[[ fetch: read up to COUNT new entries, taking the streams in the order given (strict
  priority, or the weighted order the caller drew). Skips paused queues and priorities;
  recreates a missing consumer group at id 0 so that nothing already queued is skipped.
  KEYS[1..n-1] priority streams in fetch order   KEYS[n] paused hash
  ARGV[1] group   ARGV[2] consumer   ARGV[3] count   ARGV[4..] priority name of each stream
  Returns {active, groups}: active lists the priorities not paused (for the blocking read
  that follows an empty fetch); groups is {{priority, {{entry id, {field, value, ...}}}}} ]]
local n = #KEYS
local paused_key = KEYS[n]
local group, consumer, wanted = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', paused_key, '*') == 1 then return {{}, {}} end
local out, active = {}, {}
for i = 1, n - 1 do
  local priority = ARGV[3 + i]
  local open = redis.call('HEXISTS', paused_key, priority) == 0
  if open then table.insert(active, priority) end
  if open and wanted > 0 then
    local ok, reply = pcall(redis.call, 'XREADGROUP', 'GROUP', group, consumer,
      'COUNT', wanted, 'STREAMS', KEYS[i], '>')
    if not ok then
      if string.find(tostring(reply.err or reply), 'NOGROUP') then
        redis.call('XGROUP', 'CREATE', KEYS[i], group, '0', 'MKSTREAM')
        reply = redis.call('XREADGROUP', 'GROUP', group, consumer,
          'COUNT', wanted, 'STREAMS', KEYS[i], '>')
      else
        return redis.error_reply(tostring(reply.err or reply))
      end
    end
    if reply and reply[1] then
      local entries = reply[1][2]
      if #entries > 0 then
        table.insert(out, {priority, entries})
        wanted = wanted - #entries
      end
    end
  end
end
return {active, out}
