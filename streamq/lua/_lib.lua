--[[ _lib: helpers prepended to every script (scripts.py joins them; Lua has no include).
  now_ms(arg)        the caller's clock when arg > 0, else Redis TIME (one clock for all
                     nodes), as a number and as the string the commands are sent
  int_s(n)           an integer as a command argument (see below)
  cap(arg)           a capped stream's MAXLEN argument, or false when the stream is off (0)
  emit(...)          append a state change to the capped events stream (when capped)
  event_log(), log_event(...), emit_log(...)
                     a batch's state changes, written as entries of up to ten changes
  index_move(...)    move a job id between two status indices
  entry_fields(...)  a job's stream entry: what a worker needs besides the payload, which
                     the start script hands over from the record (stored once)
  with_payload(...)  a record's fields plus its payload, in pieces a compact hash holds
  get_payload(...)   read it back whole (the start script, for the worker)
  archive(...)       copy a job's record, as it has just become terminal, to the queue's
                     archive stream for the history archiver (maxlen from cap(); false or
                     0: history is off)
  collector(), collect(...), send_all(...)
                     a batch's writes to one key (index members, entry ids to acknowledge)
                     gathered per key and sent as one command each at the end ]]
-- Numbers reach redis.call as strings made here, once. Redis turns every number argument
-- of redis.call into text with snprintf("%.17g"): for a millisecond timestamp that costs
-- more than a fast command itself (`python -m benchmarks.lua_calls`, number against string
-- arguments).
local function now_ms(arg)
  local n = tonumber(arg)
  if n and n > 0 then
    if string.find(arg, '^%d+$') then return n, arg end
    return n, string.format('%.17g', n)  -- as Redis would have sent the number
  end
  local t = redis.call('TIME')
  local micros = string.rep('0', 6 - #t[2]) .. t[2]
  local s = t[1] .. string.sub(micros, 1, 3)
  return tonumber(s), s
end

-- string.format('%d') takes the integer path of sprintf; each value is made once per call.
local int_strings = {}
local function int_s(n)
  local s = int_strings[n]
  if not s then
    s = string.format('%d', n)
    int_strings[n] = s
  end
  return s
end

local function cap(arg)
  if (tonumber(arg) or 0) > 0 then return arg end
  return false
end

-- maxlen: from cap() (a number > 0 also works, at the cost above)
local function emit(events_key, maxlen, job_id, from, to, attempt, now, worker)
  if maxlen and maxlen ~= 0 then
    redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*',
      'job', job_id, 'from', from, 'to', to, 'attempt', attempt, 'time', now, 'worker', worker)
  end
end

-- A batch script's state changes go out in entries of up to EVENTS_PER_ENTRY changes (per
-- worker), not one entry per change: an XADD costs Redis about the same whether it holds
-- one change or ten. One change is the plain entry emit() writes; several share `time` and
-- `worker`, and their `job`, `from`, `to` and `attempt` fields hold one value per change,
-- separated by spaces (job ids, statuses and attempts never hold one; an empty `from`
-- stays empty between them). The stream stays capped in entries (MAXLEN ~ maxlen, as
-- emit()), so it keeps at least maxlen changes and at most EVENTS_PER_ENTRY times that.
local EVENTS_PER_ENTRY = 10

local function event_log()
  return {order = {}, by = {}}
end

local function log_event(log, job_id, from, to, attempt, worker)
  local g = log.by[worker]
  if not g then
    g = {job = {}, from = {}, to = {}, attempt = {}}
    log.by[worker] = g
    log.order[#log.order + 1] = worker
  end
  local n = #g.job + 1
  g.job[n], g.from[n], g.to[n], g.attempt[n] = job_id, from, to, attempt
end

local function emit_log(events_key, maxlen, log, now)
  if not maxlen or maxlen == 0 then return end
  for _, worker in ipairs(log.order) do
    local g = log.by[worker]
    for first = 1, #g.job, EVENTS_PER_ENTRY do
      local last = math.min(first + EVENTS_PER_ENTRY - 1, #g.job)
      redis.call('XADD', events_key, 'MAXLEN', '~', maxlen, '*',
        'job', table.concat(g.job, ' ', first, last),
        'from', table.concat(g.from, ' ', first, last),
        'to', table.concat(g.to, ' ', first, last),
        'attempt', table.concat(g.attempt, ' ', first, last), 'time', now, 'worker', worker)
    end
  end
end

local function index_move(from_key, to_key, job_id, now)
  if from_key then redis.call('ZREM', from_key, job_id) end
  if to_key then redis.call('ZADD', to_key, now, job_id) end
end

local function entry_fields(job_id, rec_type, timeout, max_retries, now)
  return {'id', job_id, 'type', rec_type, 'timeout', timeout, 'retries', max_retries,
          'enq', now}
end

-- A hash stays in Redis's compact listpack encoding only while every value is at most
-- hash-max-listpack-value (64 bytes by default): a payload longer than that, stored as one
-- field, would turn the whole record into a hash table costing several times its size.
-- Payloads up to PIECES * PIECE bytes are stored as 'payload.n' = n and 'payload.0' ..
-- 'payload.<n-1>'; shorter and longer ones (past that size the record is large anyway) as
-- one 'payload' field.
local PIECE, PIECES = 64, 32

local function with_payload(fields, payload)
  local n = math.ceil(#payload / PIECE)
  if n <= 1 or n > PIECES then
    fields[#fields + 1] = 'payload'
    fields[#fields + 1] = payload
    return fields
  end
  fields[#fields + 1] = 'payload.n'
  fields[#fields + 1] = int_s(n)
  for i = 0, n - 1 do
    fields[#fields + 1] = 'payload.' .. i
    fields[#fields + 1] = string.sub(payload, i * PIECE + 1, (i + 1) * PIECE)
  end
  return fields
end

-- PAYLOAD_HEAD: what a caller's HMGET asks for, so that a payload of up to four pieces
-- (256 bytes) costs no second command; `head` is that part of its reply.
local PAYLOAD_HEAD = {'payload', 'payload.n', 'payload.0', 'payload.1', 'payload.2',
  'payload.3'}

-- A piece missing from a damaged record reads as empty: the worker then fails the attempt
-- as an invalid payload, where raising here would fail its whole batch after its writes.
local function get_payload(job_key, head)
  if head[1] or not head[2] then return head[1] or '' end
  local n = tonumber(head[2]) or 0
  local pieces = {}
  for i = 1, math.min(n, 4) do pieces[i] = head[i + 2] or '' end
  if n > 4 then
    local names = {}
    for i = 4, n - 1 do names[#names + 1] = 'payload.' .. i end
    for _, piece in ipairs(redis.call('HMGET', job_key, unpack(names))) do
      pieces[#pieces + 1] = piece or ''
    end
  end
  return table.concat(pieces)
end

local function archive(archive_key, maxlen, job_id, job_key)
  if maxlen and maxlen ~= 0 then
    redis.call('XADD', archive_key, 'MAXLEN', '~', maxlen, '*', 'id', job_id,
      unpack(redis.call('HGETALL', job_key)))
  end
end

-- Batch scripts send the many-member commands (ZADD, ZREM, XACK, XDEL) once per key for the
-- whole batch instead of once per job: each redis.call from Lua costs a few µs beyond the
-- command's own work, and these were half the calls per job. The script stays atomic, so no
-- client sees the difference. BULK (even, for ZADD's pairs) keeps each call's argument list
-- far under Lua's unpack limit.
local BULK = 1000

local function collector()
  return {order = {}, items = {}}
end

local function collect(c, key, a, b)
  local items = c.items[key]
  if not items then
    items = {}
    c.items[key] = items
    c.order[#c.order + 1] = key
  end
  items[#items + 1] = a
  if b ~= nil then items[#items + 1] = b end
end

-- `command key [extra] item...` for every key collected, in the order first collected:
-- ZADD key score member..., ZREM key member..., XACK key group id..., XDEL key id...
local function send_all(c, command, extra)
  for _, key in ipairs(c.order) do
    local items = c.items[key]
    for first = 1, #items, BULK do
      local args = {command, key}
      if extra then args[3] = extra end
      for i = first, math.min(first + BULK - 1, #items) do args[#args + 1] = items[i] end
      redis.call(unpack(args))
    end
  end
end
