package redislimit

import (
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts below run atomically in Redis (hand-written because the
// admission decision must read and change several keys at once, on the
// server's clock, and go-redis has no such primitive). Times are microseconds
// of the Redis server's clock (TIME). KEYS are keySet.all; Lua indexes are
// one more than the k* constants: 1 epoch, 2 lease, 3 queue, 4 queue expiry,
// 5 arrival counter, 6 push-back, 7.. the windows.

// prelude is shared by every script: the server's time, key expiry that only
// ever grows (limiters of one Scope may run with different lease TTLs), the
// wake-up of the head of the queue, and the epoch check.
//
// The epoch is a random id stored without expiry. When it is missing, Redis
// lost its state (a restart without persistence, a flush, an eviction): the
// caller's id becomes the new epoch, and when the caller knew the old one,
// admissions pause until "until" (now + the lease TTL) so that every live
// limiter can put back the admissions and leases it knows of. A caller whose
// epoch differs from Redis's is told so (reply code 3) and restores first.
const prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function extend(key, ms)
  local cur = redis.call('PTTL', key)
  if cur == -1 or cur == -2 or cur < ms then
    redis.call('PEXPIRE', key, ms)
  end
end

local function wake_head(chan)
  local h = redis.call('ZRANGE', KEYS[3], 0, 0)
  if h[1] then
    redis.call('PUBLISH', chan, h[1])
  end
end

local function epoch(known, candidate, grace)
  local ep = redis.call('HGET', KEYS[1], 'id')
  if not ep then
    ep = candidate
    local untl = 0
    if known ~= '' then
      untl = now + grace
    end
    redis.call('HSET', KEYS[1], 'id', ep, 'until', untl)
  end
  return ep
end
`

// acquireScript tries to admit call ARGV[1].
//
// ARGV: 1 id, 2 known epoch ("" for none), 3 lease TTL µs, 4 concurrency cap
// (0: none), 5 time left before the caller's deadline µs (-1: none),
// 6 wake channel, then per window its limit and span µs.
//
// Replies: {1, epoch, now} admitted; {2, epoch, estimate} refused because the
// deadline comes before the estimated slot; {3, epoch} restore first;
// {0, epoch, wait, estimate, lease, ahead} queued (or kept in the queue):
// wait is what the windows, push-back and restore pause ask of the head,
// estimate is a lower bound of this call's wait counting the calls ahead of
// it, lease is when the earliest lease expires when the cap is reached (else
// 0), ahead is the number of queued calls before this one.
var acquireScript = redis.NewScript(prelude + `
local id, known, ttl, conc, remaining, chan = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local ep = epoch(known, id, ttl)
if known ~= '' and known ~= ep then
  return {3, ep}
end
local ttlms = math.ceil(ttl / 1000) * 2 + 1000

local wait = 0
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untl > now then wait = untl - now end
local pb = tonumber(redis.call('GET', KEYS[6]) or '0')
if pb > now and pb - now > wait then wait = pb - now end

-- Forget the waiters that stopped refreshing their place (gone without
-- cancelling) and the leases of holders that stopped renewing (killed).
local changed = false
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for _, g in ipairs(gone) do
  redis.call('ZREM', KEYS[3], g)
  redis.call('ZREM', KEYS[4], g)
  changed = true
end
local full = false
if conc > 0 then
  if redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) > 0 then changed = true end
  full = redis.call('ZCARD', KEYS[2]) >= conc
end

local myseq = redis.call('ZSCORE', KEYS[3], id)
local ahead
if myseq then
  ahead = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. myseq)
else
  ahead = redis.call('ZCARD', KEYS[3])
end

-- Every window: the admission Limit places back must have left it. The
-- estimate for a call with ahead calls before it is the ring's: the
-- (ahead % limit)-th next slot, plus one span per full limit ahead.
local est = wait
local nw = (#ARGV - 6) / 2
for i = 1, nw do
  local limit, sp = tonumber(ARGV[5 + 2 * i]), tonumber(ARGV[6 + 2 * i])
  local k = KEYS[6 + i]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - sp)
  local c = redis.call('ZCARD', k)
  if c >= limit then
    local s = tonumber(redis.call('ZRANGE', k, c - limit, c - limit, 'WITHSCORES')[2])
    if s + sp - now > wait then wait = s + sp - now end
  end
  local idx = c - limit + (ahead % limit)
  local first = now
  if idx >= 0 and idx < c then
    local s = tonumber(redis.call('ZRANGE', k, idx, idx, 'WITHSCORES')[2])
    if s + sp > first then first = s + sp end
  end
  local at = first + math.floor(ahead / limit) * sp
  if at - now > est then est = at - now end
end
if wait > est then est = wait end

if wait == 0 and not full and ahead == 0 then
  for i = 1, nw do
    local k = KEYS[6 + i]
    redis.call('ZADD', k, now, id)
    extend(k, math.ceil(tonumber(ARGV[6 + 2 * i]) / 1000) + 1000)
  end
  if conc > 0 then
    redis.call('ZADD', KEYS[2], now + ttl, id)
    extend(KEYS[2], ttlms)
  end
  if myseq then
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
  -- The next in line may go too if a slot is left (when the windows are
  -- full, the timer its last run set wakes it).
  if conc == 0 or redis.call('ZCARD', KEYS[2]) < conc then
    wake_head(chan)
  end
  return {1, ep, now}
end

if remaining >= 0 and est > 0 and est >= remaining then
  if myseq then
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
    if ahead == 0 then changed = true end
  end
  if changed then wake_head(chan) end
  return {2, ep, est}
end

if not myseq then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), id)
end
redis.call('ZADD', KEYS[4], now + ttl, id)
extend(KEYS[3], ttlms)
extend(KEYS[4], ttlms)
extend(KEYS[5], ttlms)
if changed then wake_head(chan) end
local lease = 0
if full then
  local e = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if e[2] then lease = tonumber(e[2]) - now end
end
return {0, ep, wait, est, lease, ahead}
`)

// releaseScript ends lease ARGV[1] and wakes the head of the queue.
// ARGV: 1 id, 2 wake channel. Reply: the server's time.
var releaseScript = redis.NewScript(prelude + `
redis.call('ZREM', KEYS[2], ARGV[1])
wake_head(ARGV[2])
return now
`)

// cancelScript gives up the place ARGV[1] holds in the queue.
// ARGV: 1 id, 2 wake channel.
var cancelScript = redis.NewScript(prelude + `
if redis.call('ZREM', KEYS[3], ARGV[1]) > 0 then
  redis.call('ZREM', KEYS[4], ARGV[1])
  wake_head(ARGV[2])
end
return 0
`)

// pushBackScript forbids admissions before now + ARGV[1] µs (never
// shortening an earlier push-back), and wakes the head so that it re-checks
// its deadline. ARGV: 1 duration µs, 2 wake channel.
var pushBackScript = redis.NewScript(prelude + `
local nb = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[6]) or '0')
if nb > cur then
  redis.call('SET', KEYS[6], nb, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
  wake_head(ARGV[2])
end
return 0
`)

// renewScript extends held leases by the TTL, and puts back any that Redis
// no longer has (the call is still running, so it still takes a slot). With
// no lease it is the heartbeat that checks the epoch.
// ARGV: 1 known epoch, 2 candidate epoch, 3 lease TTL µs, 4.. lease ids.
// Replies: {0, epoch, lost, now}; {3, epoch} restore first.
var renewScript = redis.NewScript(prelude + `
local known, ttl = ARGV[1], tonumber(ARGV[3])
local ep = epoch(known, ARGV[2], ttl)
if known ~= '' and known ~= ep then
  return {3, ep}
end
local lost = 0
for i = 4, #ARGV do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then lost = lost + 1 end
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[i])
end
if #ARGV >= 4 then extend(KEYS[2], math.ceil(ttl / 1000) * 2 + 1000) end
return {0, ep, lost, now}
`)

// restoreScript puts back what one limiter knows after Redis lost its state:
// its leases (held calls) and its recent admissions.
// ARGV: 1 epoch (as the caller was told it), 2 lease TTL µs, 3 wake channel,
// 4 number of windows n, then n spans µs, then the number of leases m, then m
// lease ids, then pairs of admission id and time µs.
// Replies: {0, epoch}; {3, epoch} when the epoch changed again.
var restoreScript = redis.NewScript(prelude + `
local ep = redis.call('HGET', KEYS[1], 'id')
if ep ~= ARGV[1] then
  return {3, ep or ''}
end
local ttl = tonumber(ARGV[2])
local n = tonumber(ARGV[4])
local m = tonumber(ARGV[5 + n])
for i = 1, m do
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[5 + n + i])
end
if m > 0 then extend(KEYS[2], math.ceil(ttl / 1000) * 2 + 1000) end
for w = 1, n do
  local sp = tonumber(ARGV[4 + w])
  local k = KEYS[6 + w]
  local added = false
  for j = 6 + n + m, #ARGV - 1, 2 do
    local at = tonumber(ARGV[j + 1])
    if at > now - sp then
      redis.call('ZADD', k, 'NX', at, ARGV[j])
      added = true
    end
  end
  if added then extend(k, math.ceil(sp / 1000) + 1000) end
end
wake_head(ARGV[3])
return {0, ep}
`)

// Reply codes of acquireScript, renewScript and restoreScript.
const (
	codeQueued   = 0
	codeAdmitted = 1
	codeTooLate  = 2
	codeRestore  = 3
)

// reply is a decoded script reply.
type reply struct {
	code  int64
	epoch string
	nums  []int64 // the integers after the epoch
}

// decodeReply checks the shape of a script's reply: a code, an epoch, then
// integers. Redis answers what the scripts above return, so an error here
// means that something else answered.
func decodeReply(v any) (reply, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return reply{}, fmt.Errorf("redislimit: unexpected script reply %T %v", v, v)
	}
	var r reply
	if r.code, ok = a[0].(int64); !ok {
		return reply{}, fmt.Errorf("redislimit: unexpected script reply code %T %v", a[0], a[0])
	}
	if r.epoch, ok = a[1].(string); !ok {
		return reply{}, fmt.Errorf("redislimit: unexpected script reply epoch %T %v", a[1], a[1])
	}
	for _, x := range a[2:] {
		n, ok := x.(int64)
		if !ok {
			return reply{}, fmt.Errorf("redislimit: unexpected script reply value %T %v", x, x)
		}
		r.nums = append(r.nums, n)
	}
	return r, nil
}

// num returns the i-th integer of r, or 0 when there is none.
func (r reply) num(i int) int64 {
	if i < len(r.nums) {
		return r.nums[i]
	}
	return 0
}
