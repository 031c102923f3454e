--[[ dlq_delete: remove dead-letter entries and forget their jobs. An entry is live while
  its job is still `failed` from that very failure (the record's `finished` equals the
  entry's `time`); a live entry's job record and index entries go with it, a stale one
  (the job was requeued since, or its record expired) is only removed from the stream.
  KEYS[1] dead stream   KEYS[2] index:failed   KEYS[3] index:all   KEYS[4] events
  then two per entry: job hash, index:type:<type>
  ARGV[1] now_ms   ARGV[2] events maxlen   then three per entry: job id, entry id,
  entry time (ms)
  Returns one code per entry: 1 job deleted | 0 stale entry removed | -1 no job record ]]
local dead_key, failed_idx, all_idx, events_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms(ARGV[1])
local events_max = cap(ARGV[2])
local out = {}
for i = 0, (#KEYS - 4) / 2 - 1 do
  local job_key, type_idx = KEYS[5 + 2 * i], KEYS[6 + 2 * i]
  local job_id, entry_id, entry_time = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  redis.call('XDEL', dead_key, entry_id)
  local rec = redis.call('HMGET', job_key, 'status', 'finished', 'attempt')
  if not rec[1] then
    table.insert(out, -1)
  elseif rec[1] == 'failed' and rec[2] == entry_time then
    redis.call('DEL', job_key)
    redis.call('ZREM', failed_idx, job_id)
    redis.call('ZREM', all_idx, job_id)
    redis.call('ZREM', type_idx, job_id)
    emit(events_key, events_max, job_id, 'failed', 'deleted', tonumber(rec[3]) or 1, now, '')
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
end
return out
