--[[ reclaim: give entries taken from a lost worker back to the queue as fresh entries, or
  dead-letter them ('lost worker') once the job's deliveries were lost max_deliveries times.
  Called after XAUTOCLAIM moved the entries to the reclaimer's consumer; an entry that is no
  longer pending under that consumer was taken by someone else meanwhile and is left alone.
  With check_owner 0 the entries are known deleted from the stream (XAUTOCLAIM's third
  element): the job is recovered from its record when it still points at that entry.
  KEYS[1] stream   KEYS[2] dead   KEYS[3] index:processing   KEYS[4] index:queued
  KEYS[5] index:failed   KEYS[6] events   KEYS[7] archive   KEYS[8..] job hash of each entry
  ARGV[1] now_ms   ARGV[2] group   ARGV[3] reclaimer consumer   ARGV[4] max deliveries
  ARGV[5] events maxlen   ARGV[6] dead maxlen   ARGV[7] failed ttl_ms   ARGV[8] check_owner
  ARGV[9] count_lost (0 when a stopping node hands its unfinished entries back itself)
  ARGV[10] archive maxlen (0: off)
  then two per job hash: job id, entry id
  Returns {requeued, dead, dropped, then job id and type of each job dead-lettered} ]]
local stream_key, dead_key, processing_idx, queued_idx = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local failed_idx, events_key, archive_key = KEYS[5], KEYS[6], KEYS[7]
local now = now_ms(ARGV[1])
local group, consumer, max_deliveries = ARGV[2], ARGV[3], tonumber(ARGV[4])
local events_max, dead_max, failed_ttl = cap(ARGV[5]), ARGV[6], ARGV[7]
local check_owner, count_lost = ARGV[8] == '1', ARGV[9] == '1'
local archive_max = cap(ARGV[10])
local requeued, dead, dropped = 0, 0, 0
local dead_jobs = {}

local function release(entry_id)
  redis.call('XACK', stream_key, group, entry_id)
  redis.call('XDEL', stream_key, entry_id)
end

for i = 8, #KEYS do
  local job_key, a = KEYS[i], 2 * i - 5
  local job_id, entry_id = ARGV[a], ARGV[a + 1]
  local owned = true
  if check_owner then
    local p = redis.call('XPENDING', stream_key, group, entry_id, entry_id, 1)
    owned = p[1] ~= nil and p[1][2] == consumer
  end
  if owned then
    local rec = redis.call('HMGET', job_key, 'status', 'entry', 'type', 'timeout',
      'max_retries', 'attempt', 'worker')
    local status, current = rec[1], rec[2]
    local stale = status == 'processing' and current ~= entry_id
    if not status or (status ~= 'processing' and status ~= 'queued') or stale then
      if check_owner then release(entry_id) end
      dropped = dropped + 1
    elseif not check_owner and status ~= 'processing' then
      dropped = dropped + 1
    else
      if check_owner then release(entry_id) end
      local attempt, worker = tonumber(rec[6]) or 1, rec[7] or ''
      local lost = 0
      if status == 'processing' and count_lost then
        lost = redis.call('HINCRBY', job_key, 'lost', 1)
      end
      if count_lost and lost >= max_deliveries then
        redis.call('HSET', job_key, 'status', 'failed', 'reason', 'lost worker',
          'error_type', 'LostWorker', 'error',
          'the worker running this job was lost ' .. lost .. ' times', 'finished', now)
        redis.call('PEXPIRE', job_key, failed_ttl)
        redis.call('XADD', dead_key, 'MAXLEN', '~', dead_max, '*', 'job', job_id,
          'type', rec[3] or '', 'reason', 'lost worker', 'error_type', 'LostWorker',
          'error', 'worker lost', 'attempt', attempt, 'time', now)
        index_move(processing_idx, failed_idx, job_id, now)
        redis.call('ZREM', queued_idx, job_id)
        emit(events_key, events_max, job_id, status, 'failed', attempt, now, worker)
        archive(archive_key, archive_max, job_id, job_key)
        dead = dead + 1
        dead_jobs[#dead_jobs + 1] = job_id
        dead_jobs[#dead_jobs + 1] = rec[3] or ''
      else
        redis.call('XADD', stream_key, '*', unpack(entry_fields(job_id, rec[3], rec[4], rec[5],
          now)))
        redis.call('HSET', job_key, 'status', 'queued')
        index_move(processing_idx, queued_idx, job_id, now)
        emit(events_key, events_max, job_id, status, 'queued', attempt, now, worker)
        requeued = requeued + 1
      end
    end
  end
end
local out = {requeued, dead, dropped}
for _, value in ipairs(dead_jobs) do out[#out + 1] = value end
return out
