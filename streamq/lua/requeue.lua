--[[ requeue: give a failed (dead-lettered) or cancelled job a fresh attempt budget under the
  same id, and remove its dead-letter entries. A cancelled job that never started and whose
  due time is still ahead (a delayed job cancelled while it waited) goes back to waiting for
  that time: retrying undoes the cancel. Every other job is queued at once.
  KEYS[1] job hash   KEYS[2..4] streams high, normal, low   KEYS[5] dead
  KEYS[6] index:failed   KEYS[7] index:cancelled   KEYS[8] index:queued   KEYS[9] events
  KEYS[10] scheduled   KEYS[11] index:scheduled
  ARGV[1] now_ms   ARGV[2] events maxlen   ARGV[3] job id   ARGV[4] wake channel (the
  scheduler's)   ARGV[5..] dead-letter entry ids to delete (an entry that names another job
  is kept: a wrong id never erases someone else's record)
  Returns {1, previous status} | {0, status} not failed or cancelled | {-1, ''} no such job ]]
local job_key, dead_key, queued_idx, events_key = KEYS[1], KEYS[5], KEYS[8], KEYS[9]
local scheduled_key, scheduled_idx = KEYS[10], KEYS[11]
local streams = {high = KEYS[2], normal = KEYS[3], low = KEYS[4]}
local from_idx = {failed = KEYS[6], cancelled = KEYS[7]}
local now = now_ms(ARGV[1])
local events_max, job_id, wake = cap(ARGV[2]), ARGV[3], ARGV[4]
local rec = redis.call('HMGET', job_key, 'status', 'type', 'priority', 'timeout',
  'max_retries', 'run', 'due')
local status = rec[1]
if not status then return {-1, ''} end
if not from_idx[status] then return {0, status} end
local due = tonumber(rec[7]) or 0
local waits = status == 'cancelled' and (tonumber(rec[6]) or 0) == 0 and due > now
local to = waits and 'scheduled' or 'queued'
redis.call('PERSIST', job_key)
redis.call('HSET', job_key, 'status', to, 'attempt', 1, 'lost', 0)
redis.call('HDEL', job_key, 'finished', 'result', 'error', 'error_type', 'traceback', 'reason')
if waits then
  redis.call('ZADD', scheduled_key, due, job_id)
  index_move(from_idx[status], scheduled_idx, job_id, now)
  local head = redis.call('ZRANGE', scheduled_key, 0, 0)
  if head[1] == job_id then redis.call('PUBLISH', wake, due) end
else
  redis.call('HSET', job_key, 'due', now)
  redis.call('XADD', streams[rec[3]] or streams.normal, '*', unpack(entry_fields(job_id, rec[2],
    rec[4], rec[5], now)))
  index_move(from_idx[status], queued_idx, job_id, now)
end
for i = 5, #ARGV do
  local found = redis.call('XRANGE', dead_key, ARGV[i], ARGV[i])
  local fields = found[1] and found[1][2] or {}
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'job' and fields[j + 1] == job_id then
      redis.call('XDEL', dead_key, ARGV[i])
    end
  end
end
emit(events_key, events_max, job_id, status, to, 1, now, '')
return {1, status}
