--[[ trim: drop listing-index entries whose job record is gone (retention expired, or
  deleted), and forget a type whose index became empty. Checking and removing in one script
  means a job written meanwhile is never dropped.
  KEYS[1] index zset   KEYS[2] types set   KEYS[3..] job hash of each candidate
  ARGV[1] the index's job type ('' for index:all or a status index)
  ARGV[2..] job id of each candidate
  Returns the number of entries removed ]]
local index_key, types_key, job_type = KEYS[1], KEYS[2], ARGV[1]
local removed = 0
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('ZREM', index_key, ARGV[i - 1])
  end
end
if job_type ~= '' and redis.call('ZCARD', index_key) == 0 then
  redis.call('SREM', types_key, job_type)
end
return removed
