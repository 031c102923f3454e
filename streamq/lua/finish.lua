--[[ finish: record a batch of attempts' outcomes, each fenced on its run number.
  KEYS[1..3] streams high, normal, low   KEYS[4] scheduled   KEYS[5] dead
  KEYS[6] index:processing   KEYS[7] index:succeeded   KEYS[8] index:failed
  KEYS[9] index:retrying     KEYS[10] index:cancelled  KEYS[11] events   KEYS[12] archive
  KEYS[13..] job hash of each outcome
  ARGV[1] now_ms   ARGV[2] succeeded ttl_ms   ARGV[3] failed ttl_ms   ARGV[4] events maxlen
  ARGV[5] dead maxlen   ARGV[6] group   ARGV[7] wake channel   ARGV[8] archive maxlen (0: off)
  then 11 per outcome: job id, stream index (1..3), entry id, run, kind (succeeded|retry|
  failed|cancelled), result json, error, error type, traceback, reason, retry delay ms
  A `cancelled` outcome (the node stopped the handler) is only acknowledged when the job was
  cancelled (cancel.lua writes the status before it asks the node to stop); otherwise the
  node stopped it because its lease was lost, and the entry is left to the reclaimer.
  A stale attempt writes nothing; its entry is acknowledged and deleted unless a running
  attempt still uses that entry (the same entry delivered again after its group was lost,
  or the lease-lost case above), so that it does not linger pending and come back through
  the reclaimer as a second entry of the job.
  A lease-lost attempt whose entry is on no pending list any more (its stream or group was
  deleted) is given back through the scheduled zset: otherwise nothing would ever run it.
  The finished-status indices are trimmed by age by the janitor, not here: once per sweep
  instead of once per job. Acknowledgements and index moves are gathered and sent once per
  key at the end (see collector in _lib).
  Returns one code per outcome: 1 applied | 0 stale attempt (fenced off), or stopped without
          a cancel | -1 job missing | 2 acknowledged, job had been cancelled meanwhile
          | 3 stopped, its entry gone: the job was given back ]]
local scheduled_key, dead_key, events_key, archive_key = KEYS[4], KEYS[5], KEYS[11], KEYS[12]
local processing_idx = KEYS[6]
local stream_keys = {['1'] = KEYS[1], ['2'] = KEYS[2], ['3'] = KEYS[3]}  -- by the index sent
local final_idx = {succeeded = KEYS[7], failed = KEYS[8], retry = KEYS[9], cancelled = KEYS[10]}
local now, now_s = now_ms(ARGV[1])
local ok_ttl, failed_ttl = ARGV[2], ARGV[3]
local events_max, dead_max, group, wake = cap(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local archive_max = cap(ARGV[8])
local out = {}
local per = 11
local acks, leaving, landing = collector(), collector(), collector()
local changes = event_log()

-- An entry is released only when its record no longer runs from it (or is gone), and an
-- applied outcome moves the record off `processing`: so no later outcome of the batch finds
-- a released entry in use, and pending_anywhere never asks about one still unsent.
local function release(stream_key, entry_id)
  collect(acks, stream_key, entry_id)
end

local function pending_anywhere(stream_key, entry_id)
  local ok, p = pcall(redis.call, 'XPENDING', stream_key, group, entry_id, entry_id, 1)
  return ok and p[1] ~= nil
end

local count = (#ARGV - 8) / per
for i = 0, count - 1 do
  local a = 8 + i * per
  local job_key = KEYS[13 + i]
  local job_id, stream_key = ARGV[a + 1], stream_keys[ARGV[a + 2]]
  local entry_id, run, kind = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local result, err, err_type, tb, reason = ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9],
    ARGV[a + 10]
  local delay = tonumber(ARGV[a + 11])
  local rec = redis.call('HMGET', job_key, 'run', 'status', 'attempt', 'worker', 'type',
    'entry')
  local in_use = rec[2] == 'processing' and rec[6] == entry_id
  if not rec[2] then
    release(stream_key, entry_id)
    out[#out + 1] = -1
  elseif rec[1] ~= run then
    if not in_use then
      release(stream_key, entry_id)
    end
    out[#out + 1] = 0
  elseif rec[2] == 'cancelled' then
    release(stream_key, entry_id)
    out[#out + 1] = 2
  elseif in_use and kind == 'cancelled' and not pending_anywhere(stream_key, entry_id) then
    -- Stopped because its lease was lost, and its entry is on no pending list (the stream
    -- or its group was deleted): no reclaimer can ever find it, so it is given back now,
    -- through the scheduled zset (due now), with its attempt unchanged.
    redis.call('HSET', job_key, 'status', 'scheduled', 'due', now_s)
    collect(leaving, processing_idx, job_id)
    redis.call('ZADD', scheduled_key, now_s, job_id)
    local head = redis.call('ZRANGE', scheduled_key, 0, 0)
    if head[1] == job_id then redis.call('PUBLISH', wake, now_s) end
    log_event(changes, job_id, 'processing', 'scheduled', rec[3] or '1', rec[4] or '')
    out[#out + 1] = 3
  elseif rec[2] ~= 'processing' or kind == 'cancelled' then
    if not in_use then
      release(stream_key, entry_id)
    end
    out[#out + 1] = 0
  else
    local attempt, worker = rec[3] or '1', rec[4] or ''
    release(stream_key, entry_id)
    local to = kind
    if kind == 'succeeded' then
      redis.call('HSET', job_key, 'status', 'succeeded', 'result', result, 'finished', now_s)
      redis.call('PEXPIRE', job_key, ok_ttl)
    elseif kind == 'retry' then
      to = 'retrying'
      local due = int_s(now + delay)
      redis.call('HSET', job_key, 'status', 'retrying', 'error', err, 'error_type', err_type,
        'traceback', tb, 'reason', reason, 'due', due)
      redis.call('HINCRBY', job_key, 'attempt', '1')
      redis.call('ZADD', scheduled_key, due, job_id)
      local head = redis.call('ZRANGE', scheduled_key, 0, 0)
      if head[1] == job_id then redis.call('PUBLISH', wake, due) end
    else
      redis.call('HSET', job_key, 'status', kind, 'error', err, 'error_type', err_type,
        'traceback', tb, 'reason', reason, 'finished', now_s)
      redis.call('PEXPIRE', job_key, failed_ttl)
      if kind == 'failed' then
        redis.call('XADD', dead_key, 'MAXLEN', '~', dead_max, '*', 'job', job_id,
          'type', rec[5] or '', 'reason', reason, 'error_type', err_type, 'error', err,
          'attempt', attempt, 'time', now_s)
      end
    end
    if kind ~= 'retry' then archive(archive_key, archive_max, job_id, job_key) end
    collect(leaving, processing_idx, job_id)
    collect(landing, final_idx[kind], now_s, job_id)
    log_event(changes, job_id, 'processing', to, attempt, worker)
    out[#out + 1] = 1
  end
end
send_all(acks, 'XACK', group)
send_all(acks, 'XDEL')
send_all(leaving, 'ZREM')
send_all(landing, 'ZADD')
emit_log(events_key, events_max, changes, now_s)
return out
