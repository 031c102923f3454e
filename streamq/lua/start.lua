--[[ start: mark a fetched batch as processing, one attempt per entry, fenced by `run`.
  Entries whose job is missing, cancelled or finished are acknowledged and skipped, and so
  is a second entry of a job already running from another entry (a cancelled job's queued
  entry stays in its stream, so cancel then requeue leaves two): one attempt at a time.
  The same entry delivered again (its group was lost and recreated at 0) starts a new run.
  An entry no longer pending under this worker (reclaimed while the fetch reply was on its
  way: the node was frozen or cut off) is left alone: its job runs from the new entry. The
  lease runs from the read: the node renews what it holds, from before the start on.
  While the stream's priority (or the whole queue) is paused, a runnable entry is handed
  back as a fresh entry, still `queued`: a blocking read that began before a pause can
  return entries after it, and this check costs no extra round trip.
  KEYS[1] stream   KEYS[2] index:queued   KEYS[3] index:processing   KEYS[4] events
  KEYS[5] paused hash   KEYS[6..] job hash of each entry
  ARGV[1] now_ms   ARGV[2] worker (consumer)   ARGV[3] events maxlen   ARGV[4] group
  ARGV[5] the stream's priority   then two per job hash: job id, entry id
  The payload of each attempt that starts is read from the record (entries do not repeat it).
  Acknowledgements and index moves are gathered and sent once per key at the end (see
  collector in _lib).
  Returns {run_1, attempt_1, payload_1, run_2, ...} (payload '' unless the attempt starts),
  where run is the new run number (> 0) or a code: -1 no record | 0 not runnable (or handed
  back, paused) ]]
local stream_key, queued_idx, processing_idx, events_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, now_s = now_ms(ARGV[1])
local worker, events_max, group = ARGV[2], cap(ARGV[3]), ARGV[4]
local flags = redis.call('HMGET', KEYS[5], '*', ARGV[5])
local paused = flags[1] or flags[2]
local out = {}
local acks, leaving, landing = collector(), collector(), collector()
local changes = event_log()

local function release(entry_id)
  collect(acks, stream_key, entry_id)
end

local function id_parts(entry_id)
  local sep = string.find(entry_id, '-', 1, true)
  return tonumber(string.sub(entry_id, 1, sep - 1)), tonumber(string.sub(entry_id, sep + 1))
end

-- The batch's entries still pending under this worker: one XPENDING over the batch's id
-- range (filtered to this consumer) instead of one per entry; when the range holds more of
-- this worker's entries than the reply carries, each entry is asked on its own. Each id is
-- parsed once (a comparison of two ids would parse both again).
local function owned_entries()
  local first, last, first_ms, first_seq, last_ms, last_seq = nil, nil, 0, 0, 0, 0
  local n = #KEYS - 5
  for a = 7, #ARGV, 2 do
    local ms, seq = id_parts(ARGV[a])
    if not first or ms < first_ms or (ms == first_ms and seq < first_seq) then
      first, first_ms, first_seq = ARGV[a], ms, seq
    end
    if not last or ms > last_ms or (ms == last_ms and seq > last_seq) then
      last, last_ms, last_seq = ARGV[a], ms, seq
    end
  end
  local owned = {}
  if not first then return owned end
  local count = 2 * n + 16
  local ok, pending = pcall(redis.call, 'XPENDING', stream_key, group, first, last, count,
    worker)
  if not ok then return owned end  -- NOGROUP: the group is gone, nothing is ours
  if #pending < count then
    for _, p in ipairs(pending) do owned[p[1]] = true end
    return owned
  end
  for a = 7, #ARGV, 2 do
    local one = redis.call('XPENDING', stream_key, group, ARGV[a], ARGV[a], 1, worker)
    if one[1] then owned[ARGV[a]] = true end
  end
  return owned
end

local owned = owned_entries()
for i = 6, #KEYS do
  local job_key, a = KEYS[i], 2 * i - 6
  local job_id, entry_id = ARGV[a], ARGV[a + 1]
  local rec = redis.call('HMGET', job_key, 'status', 'attempt', 'entry', 'run', 'deliveries',
    unpack(PAYLOAD_HEAD))
  local status, attempt = rec[1], tonumber(rec[2]) or 0
  local duplicate = status == 'processing' and rec[3] ~= entry_id
  if not owned[entry_id] then
    out[#out + 1] = 0; out[#out + 1] = attempt; out[#out + 1] = ''
  elseif not status then
    release(entry_id)
    out[#out + 1] = -1; out[#out + 1] = 0; out[#out + 1] = ''
  elseif (status ~= 'queued' and status ~= 'processing') or duplicate then
    release(entry_id)
    out[#out + 1] = 0; out[#out + 1] = attempt; out[#out + 1] = ''
  elseif paused then
    release(entry_id)
    local job = redis.call('HMGET', job_key, 'type', 'timeout', 'max_retries')
    redis.call('XADD', stream_key, '*', unpack(entry_fields(job_id, job[1], job[2], job[3],
      now_s)))
    if status == 'processing' then  -- its own entry delivered again: it runs no more
      redis.call('HSET', job_key, 'status', 'queued')
      collect(leaving, processing_idx, job_id)
      collect(landing, queued_idx, now_s, job_id)
      log_event(changes, job_id, status, 'queued', rec[2] or '0', worker)
    end
    out[#out + 1] = 0; out[#out + 1] = attempt; out[#out + 1] = ''
  else
    local run = (tonumber(rec[4]) or 0) + 1
    redis.call('HSET', job_key, 'status', 'processing', 'worker', worker, 'started', now_s,
      'entry', entry_id, 'run', int_s(run), 'deliveries', int_s((tonumber(rec[5]) or 0) + 1))
    collect(leaving, queued_idx, job_id)
    collect(landing, processing_idx, now_s, job_id)
    log_event(changes, job_id, status, 'processing', rec[2] or '0', worker)
    out[#out + 1] = run; out[#out + 1] = attempt
    out[#out + 1] = get_payload(job_key, {unpack(rec, 6)})
  end
end
send_all(acks, 'XACK', group)
send_all(acks, 'XDEL')
send_all(leaving, 'ZREM')
send_all(landing, 'ZADD')
emit_log(events_key, events_max, changes, now_s)
return out
