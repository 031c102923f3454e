--[[ enqueue: write one job record and make it ready (stream) or scheduled (zset).
  KEYS[1] job hash        KEYS[2] priority stream   KEYS[3] scheduled zset
  KEYS[4] index:queued    KEYS[5] index:scheduled   KEYS[6] events
  KEYS[7] idempotency key (optional)
  then, optionally, the last three: index:all, index:type:<type>, types set (listing indices,
  scored by creation time; #KEYS tells which optional keys are present: 6, 7, 9 or 10)
  ARGV[1] now_ms (0 = Redis TIME)  ARGV[2] job id   ARGV[3] type   ARGV[4] payload json
  ARGV[5] priority   ARGV[6] max_retries   ARGV[7] timeout_s   ARGV[8] delay_ms
  ARGV[9] run_at_ms (0 = none)   ARGV[10] idempotency ttl_ms   ARGV[11] fingerprint
  ARGV[12] events maxlen   ARGV[13] max backlog   ARGV[14] wake channel
  ARGV[15] trace context (W3C traceparent of the producer span), only when tracing
  Returns {1, id, status} created | {0, id} replay (of the key, or of the same job id)
          | {-1, id} key conflict
          | {-2, backlog} queue over its backlog limit ]]
local job_key, stream_key, scheduled_key = KEYS[1], KEYS[2], KEYS[3]
local queued_idx, scheduled_idx, events_key = KEYS[4], KEYS[5], KEYS[6]
local idem_key, all_idx, type_idx, types_key
if #KEYS == 7 or #KEYS == 10 then idem_key = KEYS[7] end
if #KEYS >= 9 then all_idx, type_idx, types_key = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS] end
local now = now_ms(ARGV[1])
local job_id, job_type, payload, priority = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_retries, timeout = ARGV[6], ARGV[7]
local delay_ms, run_at = tonumber(ARGV[8]), tonumber(ARGV[9])
local idem_ttl, fingerprint = tonumber(ARGV[10]), ARGV[11]
local events_max, max_backlog, wake = tonumber(ARGV[12]), tonumber(ARGV[13]), ARGV[14]
local trace = ARGV[15]

if idem_key then
  local held = redis.call('GET', idem_key)
  if held then
    local sep = string.find(held, '|', 1, true)
    local held_id, held_fp = string.sub(held, 1, sep - 1), string.sub(held, sep + 1)
    if held_fp == fingerprint then return {0, held_id} end
    return {-1, held_id}
  end
end

-- A client that retries after a dropped connection may send the same job twice: the id is
-- minted by the producer, so an existing record means this job was already written.
if redis.call('EXISTS', job_key) == 1 then return {0, job_id} end

local backlog = redis.call('ZCARD', queued_idx)
if backlog >= max_backlog then return {-2, backlog} end

local due = now + delay_ms
if run_at > 0 then due = run_at end
local status = 'queued'
if due > now then status = 'scheduled' end

redis.call('HSET', job_key, 'type', job_type, 'payload', payload, 'priority', priority,
  'status', status, 'attempt', 1, 'max_retries', max_retries, 'timeout', timeout,
  'deliveries', 0, 'lost', 0, 'run', 0, 'created', now, 'due', due)
if trace and trace ~= '' then redis.call('HSET', job_key, 'trace', trace) end
if idem_key then
  redis.call('HSET', job_key, 'idem', idem_key)
  redis.call('SET', idem_key, job_id .. '|' .. fingerprint, 'PX', idem_ttl)
end

if status == 'scheduled' then
  redis.call('ZADD', scheduled_key, due, job_id)
  redis.call('ZADD', scheduled_idx, now, job_id)
  local head = redis.call('ZRANGE', scheduled_key, 0, 0)
  if head[1] == job_id then redis.call('PUBLISH', wake, due) end
else
  redis.call('XADD', stream_key, '*', unpack(entry_fields(job_id, job_type, payload, timeout,
    max_retries, now)))
  redis.call('ZADD', queued_idx, now, job_id)
end
if all_idx then
  redis.call('ZADD', all_idx, now, job_id)
  redis.call('ZADD', type_idx, now, job_id)
  redis.call('SADD', types_key, job_type)
end
emit(events_key, events_max, job_id, '', status, 1, now, '')
return {1, job_id, status}
