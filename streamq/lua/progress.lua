--[[ progress: store a running attempt's progress, fenced on its run number.
  KEYS[1] job hash   KEYS[2] events
  ARGV[1] run   ARGV[2] fraction (0..1)   ARGV[3] message   ARGV[4] events maxlen
  Returns 1 stored | 0 the attempt is no longer the job's current one ]]
local job_key = KEYS[1]
local rec = redis.call('HMGET', job_key, 'run', 'status')
if rec[1] ~= ARGV[1] or rec[2] ~= 'processing' then return 0 end
redis.call('HSET', job_key, 'progress', ARGV[2], 'progress_message', ARGV[3])
return 1
