--[[ promote: move due jobs from the scheduled zset into their priority streams, by Redis
  time, exactly once even when many schedulers run (ZREM decides who promotes).
  KEYS[1..3] streams high, normal, low   KEYS[4] scheduled   KEYS[5] index:scheduled
  KEYS[6] index:retrying   KEYS[7] index:queued   KEYS[8] events   KEYS[9..] job hashes
  ARGV[1] now_ms   ARGV[2] events maxlen   ARGV[3..] job id of each job hash
  The zset and index writes are gathered and sent once per key at the end (see collector in
  _lib); a job named twice in one call is promoted once (its record is `queued` by then).
  Returns {promoted, next due ms (or -1), now ms} ]]
local streams = {high = KEYS[1], normal = KEYS[2], low = KEYS[3]}
local scheduled_key, scheduled_idx, retrying_idx = KEYS[4], KEYS[5], KEYS[6]
local queued_idx, events_key = KEYS[7], KEYS[8]
local now, now_s = now_ms(ARGV[1])
local events_max = cap(ARGV[2])
local promoted = 0
local leaving, landing = collector(), collector()
local changes = event_log()
for i = 9, #KEYS do
  local job_key, job_id = KEYS[i], ARGV[i - 6]
  local score = redis.call('ZSCORE', scheduled_key, job_id)
  if score and tonumber(score) <= now then
    collect(leaving, scheduled_key, job_id)
    local rec = redis.call('HMGET', job_key, 'status', 'type', 'priority', 'timeout',
      'max_retries', 'attempt')
    local status = rec[1]
    if status == 'scheduled' or status == 'retrying' then
      local stream_key = streams[rec[3]] or streams.normal
      redis.call('XADD', stream_key, '*', unpack(entry_fields(job_id, rec[2], rec[4], rec[5],
        now_s)))
      redis.call('HSET', job_key, 'status', 'queued')
      collect(leaving, scheduled_idx, job_id)
      collect(leaving, retrying_idx, job_id)
      collect(landing, queued_idx, now_s, job_id)
      log_event(changes, job_id, status, 'queued', rec[6] or '1', '')
      promoted = promoted + 1
    end
  end
end
send_all(leaving, 'ZREM')
send_all(landing, 'ZADD')
emit_log(events_key, events_max, changes, now_s)
local head = redis.call('ZRANGE', scheduled_key, 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
return {promoted, next_due, now}
