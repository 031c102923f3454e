--[[ enqueue: write a batch of job records (one queue), each made ready (stream) or
  scheduled (zset). One call per batch: the call's own cost, the clock, the backlog count
  and the types set are paid once, not per job, and the index writes once per index. Each
  job is checked on its own: a refused job (key conflict, full queue) changes nothing and
  the others are written.
  KEYS[1..3] streams high, normal, low   KEYS[4] scheduled zset   KEYS[5] index:queued
  KEYS[6] index:scheduled   KEYS[7] events   KEYS[8] index:all   KEYS[9] types set
  then per job: its job hash, its index:type:<type>, and its idempotency key when it has one
  ARGV[1] now_ms (0 = Redis TIME)   ARGV[2] idempotency ttl_ms   ARGV[3] events maxlen
  ARGV[4] max backlog   ARGV[5] wake channel
  then 11 per job: job id, type, payload json, priority, max_retries, timeout_s, delay_ms,
  run_at_ms (0 = none), fingerprint, has idempotency key (1|0), trace context ('' = none)
  Returns three values per job: {1, id, status} created | {0, id, ''} replay (of the key,
          or of the same job id) | {-1, id, ''} key conflict | {-2, backlog, ''} queue over
          its backlog limit ]]
local streams = {high = KEYS[1], normal = KEYS[2], low = KEYS[3]}
local scheduled_key, queued_idx, scheduled_idx = KEYS[4], KEYS[5], KEYS[6]
local events_key, all_idx, types_key = KEYS[7], KEYS[8], KEYS[9]
local now, now_s = now_ms(ARGV[1])
local idem_ttl, events_max = ARGV[2], cap(ARGV[3])
local max_backlog, wake = tonumber(ARGV[4]), ARGV[5]
local per = 11
local backlog = redis.call('ZCARD', queued_idx)
local typed = {}
local indexed = collector()  -- every ZADD of the batch, sent once per key at the end
local earliest  -- the earliest due time this batch scheduled
local changes = event_log()
local out = {}

local function enqueue_one(job_key, type_idx, idem_key, a)
  local job_id, job_type, payload, priority = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local max_retries, timeout = ARGV[a + 4], ARGV[a + 5]
  local delay_ms, run_at = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  local fingerprint, trace = ARGV[a + 8], ARGV[a + 10]
  if idem_key then
    local held = redis.call('GET', idem_key)
    if held then
      local sep = string.find(held, '|', 1, true)
      local held_id, held_fp = string.sub(held, 1, sep - 1), string.sub(held, sep + 1)
      if held_fp == fingerprint then return {0, held_id, ''} end
      return {-1, held_id, ''}
    end
  end
  -- A client that retries after a dropped connection may send the same job twice: the id
  -- is minted by the producer, so an existing record means this job was already written.
  if redis.call('EXISTS', job_key) == 1 then return {0, job_id, ''} end
  if backlog >= max_backlog then return {-2, backlog, ''} end

  local due, due_s = now, now_s
  if run_at > 0 then
    due, due_s = run_at, int_s(run_at)
  elseif delay_ms ~= 0 then
    due = now + delay_ms
    due_s = int_s(due)
  end
  local status = 'queued'
  if due > now then status = 'scheduled' end
  local fields = {'type', job_type, 'priority', priority, 'status', status, 'attempt', '1',
    'max_retries', max_retries, 'timeout', timeout, 'deliveries', '0', 'lost', '0', 'run', '0',
    'created', now_s, 'due', due_s}
  if trace ~= '' then fields[#fields + 1] = 'trace'; fields[#fields + 1] = trace end
  if idem_key then
    fields[#fields + 1] = 'idem'; fields[#fields + 1] = idem_key
    redis.call('SET', idem_key, job_id .. '|' .. fingerprint, 'PX', idem_ttl)
  end
  redis.call('HSET', job_key, unpack(with_payload(fields, payload)))
  if status == 'scheduled' then
    collect(indexed, scheduled_key, due_s, job_id)
    collect(indexed, scheduled_idx, now_s, job_id)
    if not earliest or due < earliest then earliest = due end
  else
    redis.call('XADD', streams[priority] or streams.normal, '*', unpack(entry_fields(job_id,
      job_type, timeout, max_retries, now_s)))
    collect(indexed, queued_idx, now_s, job_id)
    backlog = backlog + 1
  end
  collect(indexed, all_idx, now_s, job_id)
  collect(indexed, type_idx, now_s, job_id)
  if not typed[job_type] then
    redis.call('SADD', types_key, job_type)
    typed[job_type] = true
  end
  log_event(changes, job_id, '', status, '1', '')
  return {1, job_id, status}
end

local k = 10
for a = 6, #ARGV, per do
  local job_key, type_idx, idem_key = KEYS[k], KEYS[k + 1], nil
  k = k + 2
  if ARGV[a + 9] == '1' then idem_key = KEYS[k]; k = k + 1 end
  for _, value in ipairs(enqueue_one(job_key, type_idx, idem_key, a)) do
    out[#out + 1] = value
  end
end
send_all(indexed, 'ZADD')
emit_log(events_key, events_max, changes, now_s)
if earliest then
  -- The scheduler sleeps until its head is due: wake it when this batch moved the head.
  local head = redis.call('ZRANGE', scheduled_key, 0, 0, 'WITHSCORES')
  if head[2] and tonumber(head[2]) == earliest then redis.call('PUBLISH', wake, earliest) end
end
return out
