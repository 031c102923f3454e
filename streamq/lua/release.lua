--[[ release: free the slots of finished jobs of a limited type, drop expired leases (their
  node is gone), and give parked jobs back to their streams while slots are free. A given-
  back job holds its slot (a fresh lease) until it is fetched and admitted.
  KEYS[1] running:<type>   KEYS[2] waiting:<type>   KEYS[3..5] streams high, normal, low
  KEYS[6..] job hash of each waiting candidate, oldest first
  ARGV[1] now_ms   ARGV[2] limit   ARGV[3] lease ms   then the job id of each candidate (one per
  job hash), then the ids of jobs that finished
  Returns {given back, running, waiting} ]]
local running_key, waiting_key = KEYS[1], KEYS[2]
local streams = {high = KEYS[3], normal = KEYS[4], low = KEYS[5]}
local now = now_ms(ARGV[1])
local limit, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
local candidates = #KEYS - 5
for i = 4 + candidates, #ARGV do redis.call('ZREM', running_key, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', running_key, '-inf', now)
local free = limit - redis.call('ZCARD', running_key)
local given = 0
for i = 6, #KEYS do
  if free <= 0 then break end
  local job_key, job_id = KEYS[i], ARGV[i - 2]
  if redis.call('ZREM', waiting_key, job_id) == 1 then
    local rec = redis.call('HMGET', job_key, 'status', 'type', 'priority', 'timeout',
      'max_retries')
    if rec[1] == 'queued' then
      redis.call('XADD', streams[rec[3]] or streams.normal, '*', unpack(entry_fields(job_id,
        rec[2], rec[4], rec[5], now)))
      redis.call('ZADD', running_key, now + lease, job_id)
      free = free - 1
      given = given + 1
    end
  end
end
return {given, redis.call('ZCARD', running_key), redis.call('ZCARD', waiting_key)}
