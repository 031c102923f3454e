--[[ _lib: helpers prepended to every script (scripts.py joins them; Lua has no include).
  now_ms(arg)        the caller's clock when arg > 0, else Redis TIME (one clock for all nodes)
  emit(...)          append a state change to the capped events stream (maxlen 0 disables)
  index_move(...)    move a job id between two status indices
  archive(...)       copy a job's record, as it has just become terminal, to the queue's
                     archive stream for the history archiver (maxlen 0: history is off) ]]
local function now_ms(arg)
  local n = tonumber(arg)
  if n and n > 0 then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function emit(events_key, maxlen, job_id, from, to, attempt, now, worker)
  if maxlen > 0 then
    redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*',
      'job', job_id, 'from', from, 'to', to, 'attempt', attempt, 'time', now, 'worker', worker)
  end
end

local function index_move(from_key, to_key, job_id, now)
  if from_key then redis.call('ZREM', from_key, job_id) end
  if to_key then redis.call('ZADD', to_key, now, job_id) end
end

local function entry_fields(job_id, rec_type, payload, timeout, max_retries, now)
  return {'id', job_id, 'type', rec_type, 'payload', payload, 'timeout', timeout,
          'retries', max_retries, 'enq', now}
end

local function archive(archive_key, maxlen, job_id, job_key)
  if maxlen > 0 then
    redis.call('XADD', archive_key, 'MAXLEN', '~', maxlen, '*', 'id', job_id,
      unpack(redis.call('HGETALL', job_key)))
  end
end
