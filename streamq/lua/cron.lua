--[[ cron: fire one tick of a recurring job, exactly once across every node. The cron hash
  keeps the last tick taken per cron; a tick at or before it was already fired (or skipped)
  by some node, so concurrent nodes race harmlessly: the first one writes the job.
  KEYS[1] cron hash   KEYS[2] job hash   KEYS[3] priority stream   KEYS[4] index:queued
  KEYS[5] index:all   KEYS[6] index:type:<type>   KEYS[7] types set   KEYS[8] events
  ARGV[1] now_ms   ARGV[2] cron name   ARGV[3] tick ms   ARGV[4] fire (1) | skip (0: only
  advance past the tick, a misfire)   ARGV[5] job id   ARGV[6] type   ARGV[7] payload json
  ARGV[8] priority   ARGV[9] max_retries   ARGV[10] timeout_s   ARGV[11] events maxlen
  ARGV[12] max backlog
  Returns {1, job id} fired | {0, last tick} already taken | {2, tick} skipped
          | {-2, backlog} queue over its backlog limit: the tick is taken, no job written ]]
local cron_key, job_key, stream_key, queued_idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local all_idx, type_idx, types_key, events_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local now = now_ms(ARGV[1])
local name, tick, fire = ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local job_id, job_type, payload, priority = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local max_retries, timeout = ARGV[9], ARGV[10]
local events_max, max_backlog = cap(ARGV[11]), tonumber(ARGV[12])

local last = tonumber(redis.call('HGET', cron_key, name))
if last and last >= tick then return {0, last} end
redis.call('HSET', cron_key, name, tick)
if not fire then return {2, tick} end
local backlog = redis.call('ZCARD', queued_idx)
if backlog >= max_backlog then return {-2, backlog} end

redis.call('HSET', job_key, unpack(with_payload({'type', job_type, 'priority', priority,
  'status', 'queued', 'attempt', 1, 'max_retries', max_retries, 'timeout', timeout,
  'deliveries', 0, 'lost', 0, 'run', 0, 'created', now, 'due', tick, 'cron', name,
  'tick', tick}, payload)))
redis.call('XADD', stream_key, '*', unpack(entry_fields(job_id, job_type, timeout, max_retries,
  now)))
redis.call('ZADD', queued_idx, now, job_id)
redis.call('ZADD', all_idx, now, job_id)
redis.call('ZADD', type_idx, now, job_id)
redis.call('SADD', types_key, job_type)
emit(events_key, events_max, job_id, '', 'queued', 1, now, '')
return {1, job_id}
