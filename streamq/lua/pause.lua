--[[ pause: stop or resume fetching from a queue's priorities on every node (fetch.lua reads
  the paused hash). A whole-queue pause written as '*' by older callers is expanded into
  its priorities when one of them is resumed.
  KEYS[1] paused hash
  ARGV[1] now_ms   ARGV[2] 'pause' | 'resume'   ARGV[3..] priorities
  Returns the paused priorities after the change (all three while '*' is set) ]]
local paused_key = KEYS[1]
local now = now_ms(ARGV[1])
local all = {'high', 'normal', 'low'}
if ARGV[2] == 'pause' then
  for i = 3, #ARGV do redis.call('HSET', paused_key, ARGV[i], now) end
else
  local since = redis.call('HGET', paused_key, '*')
  if since then
    redis.call('HDEL', paused_key, '*')
    for _, p in ipairs(all) do redis.call('HSETNX', paused_key, p, since) end
  end
  for i = 3, #ARGV do redis.call('HDEL', paused_key, ARGV[i]) end
end
local star = redis.call('HEXISTS', paused_key, '*') == 1  -- fetch.lua: '*' pauses all
local out = {}
for _, p in ipairs(all) do
  if star or redis.call('HEXISTS', paused_key, p) == 1 then table.insert(out, p) end
end
return out
