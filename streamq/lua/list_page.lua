--[[ list_page: one page of a listing index, newest first, strictly after a cursor.
  Read only. The cursor is the (score, member) of the last item already returned, so a page
  never depends on offsets: entries that leave or join the index meanwhile do not shift it.
  Equal scores are ordered by member, descending, as ZRANGE ... REV orders them; the start
  rank is found by binary search among them, so a page costs O(log N) plus its length.
  KEYS[1] index zset
  ARGV[1] cursor score ('' = from the newest)   ARGV[2] cursor member   ARGV[3] count
  (at most; 0 or less = an empty page)
  Returns {member, score, member, score, ...} ]]
local key, count = KEYS[1], tonumber(ARGV[3])
if count <= 0 then return {} end  -- ZRANGE key 0 -1 below would return the whole index
if ARGV[1] == '' then
  return redis.call('ZRANGE', key, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, count,
    'WITHSCORES')
end
local score, member = ARGV[1], ARGV[2]

local function bytes_before(a, b)  -- a < b byte by byte, whatever the server's locale
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local lo = redis.call('ZCOUNT', key, '(' .. score, '+inf')
local hi = lo + redis.call('ZCOUNT', key, score, score)
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local m = redis.call('ZRANGE', key, mid, mid, 'REV')[1]
  if bytes_before(m, member) then hi = mid else lo = mid + 1 end
end
return redis.call('ZRANGE', key, lo, lo + count - 1, 'REV', 'WITHSCORES')
