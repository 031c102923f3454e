--[[ admit: before fetched entries of a concurrency-limited type start, take a slot for each
  in the type's running set (lease = score), or park the job when the type is at its limit:
  its entry is acknowledged and deleted and its id waits in the type's waiting set, still
  `queued`, until `release` gives it back to its stream. A parked job is neither failed nor
  retried, and its attempt does not change.
  KEYS[1] stream   KEYS[2] running:<type>   KEYS[3] waiting:<type>   KEYS[4..] job hashes
  ARGV[1] now_ms   ARGV[2] group   ARGV[3] limit   ARGV[4] lease ms   ARGV[5] wait rank base
  (priority order, so that parked high jobs come back first)
  then two per job hash: job id, entry id
  Returns one flag per entry: 1 admitted (or not runnable: start skips it) | 0 parked ]]
local stream_key, running_key, waiting_key = KEYS[1], KEYS[2], KEYS[3]
local now = now_ms(ARGV[1])
local group, limit, lease, rank = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', running_key, '-inf', now)
local out = {}
for i = 4, #KEYS do
  local job_key, a = KEYS[i], 2 * i - 2
  local job_id, entry_id = ARGV[a], ARGV[a + 1]
  local status = redis.call('HGET', job_key, 'status')
  if status ~= 'queued' and status ~= 'processing' then
    table.insert(out, 1)
  elseif redis.call('ZSCORE', running_key, job_id)
      or redis.call('ZCARD', running_key) < limit then
    redis.call('ZADD', running_key, now + lease, job_id)
    table.insert(out, 1)
  else
    redis.call('XACK', stream_key, group, entry_id)
    redis.call('XDEL', stream_key, entry_id)
    redis.call('ZADD', waiting_key, 'NX', rank + now, job_id)
    table.insert(out, 0)
  end
end
return out
