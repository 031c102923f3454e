--[[ cancel: end a job that has not finished. A queued entry stays in its stream and is
  acknowledged and skipped when fetched; a running job's node hears the publish and stops
  the handler, and its late outcome is acknowledged without overwriting `cancelled`.
  KEYS[1] job hash   KEYS[2] scheduled   KEYS[3] index:scheduled   KEYS[4] index:queued
  KEYS[5] index:processing   KEYS[6] index:retrying   KEYS[7] index:cancelled   KEYS[8] events
  KEYS[9] archive
  ARGV[1] now_ms   ARGV[2] retention ttl_ms   ARGV[3] events maxlen   ARGV[4] cancel channel
  ARGV[5] job id   ARGV[6] archive maxlen (0: off)
  Returns {1, previous status} | {0, status} already finished | {-1, ''} no such job ]]
local job_key, scheduled_key, events_key = KEYS[1], KEYS[2], KEYS[8]
local from_idx = {scheduled = KEYS[3], queued = KEYS[4], processing = KEYS[5], retrying = KEYS[6]}
local cancelled_idx = KEYS[7]
local now = now_ms(ARGV[1])
local ttl, events_max = tonumber(ARGV[2]), cap(ARGV[3])
local channel, job_id = ARGV[4], ARGV[5]
local rec = redis.call('HMGET', job_key, 'status', 'attempt', 'worker')
local status = rec[1]
if not status then return {-1, ''} end
if not from_idx[status] then return {0, status} end
redis.call('HSET', job_key, 'status', 'cancelled', 'reason', 'cancelled', 'finished', now)
redis.call('PEXPIRE', job_key, ttl)
redis.call('ZREM', scheduled_key, job_id)
index_move(from_idx[status], cancelled_idx, job_id, now)
redis.call('ZREMRANGEBYSCORE', cancelled_idx, '-inf', now - ttl)
archive(KEYS[9], cap(ARGV[6]), job_id, job_key)
if status == 'processing' then redis.call('PUBLISH', channel, job_id) end
emit(events_key, events_max, job_id, status, 'cancelled', tonumber(rec[2]) or 1, now,
  rec[3] or '')
return {1, status}
