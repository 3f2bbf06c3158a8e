// Package redislimit shares an account's Kentik rate limits between
// processes and machines through Redis (or a wire-compatible fork).
//
// Kentik's limits are per customer: one concurrent admin call, 60 a rolling
// minute, 3750 a rolling hour, for every program of the account together.
// ratelimit.New keeps one process inside them; when several processes of one
// account run at once (a classify job here, a sync service there, a cron job
// elsewhere), give each a Limiter of this package with the same Scope and
// policy, on the same Redis, and together they stay inside the limits.
//
//	l, err := redislimit.NewFromURL(ctx, "redis://redis.internal:6379/0",
//		redislimit.Scope{Account: email, Class: "admin"}, ratelimit.Admin)
//
// A Limiter is a ratelimit.Limiter and a ratelimit.Pusher, with the
// semantics of ratelimit.New's: a call is admitted only when the concurrency
// cap and every rolling window (Period plus the same margin, Period/200 and at
// most 250ms) have room, calls are paced to the tightest window, Acquire
// fails at once with a *ratelimit.WaitError (Cause context.DeadlineExceeded)
// when the context's deadline comes before the earliest slot Redis can
// foresee, and waits until the deadline when only calls in flight are in the
// way. Soft limits are ignored, as clients ignore them.
//
// # Starting Redis
//
// Any Redis 6 or later (tested with 7.0), or a fork that runs Lua scripts
// with TIME and PUBLISH, reachable from every process will do; persistence
// is not needed (see below). For a try on one machine:
//
//	redis-server --port 6379 --save "" --appendonly no
//
// URLs are those go-redis parses: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB],
// rediss:// for TLS (WithTLSConfig to trust a private CA), unix:///PATH. For
// Redis Cluster, Sentinel or a Ring, build the go-redis client yourself and
// give it to New: all the keys of one Limiter carry one hash tag, so they
// live in one slot.
//
// # How it works
//
// Admission is one Lua script, run atomically by Redis on Redis's clock
// (TIME), never the callers' clocks: every window is a sorted set of
// admissions pruned by time, the concurrency cap a sorted set of leases
// scored by their expiry, and push-back a key holding the time before which
// nothing starts. Keys are named
//
//	PREFIX:{ACCOUNT_HASH:CLASS:POLICY_HASH}:...
//
// where ACCOUNT_HASH is the first 16 hex digits of the SHA-256 of the
// account (trimmed, lower-cased): the email is never stored in clear.
// POLICY_HASH identifies the policy's concurrency cap and hard windows, so
// that limiters of one Scope with equivalent policies (whatever their name,
// soft limits or order of windows, as with ratelimit.Shared) share their
// state, and limiters with different ones do not share windows they would
// count differently: give every process of an account the same policy. Every
// key expires when idle except a small epoch key (see below). Limiter.Key
// shows the common part.
//
// Each Acquire first passes an in-process ratelimit.New limiter of the same
// policy (this process's calls can never exceed the account's limits), which
// queues the process's own calls in FIFO order and keeps their history for a
// fallback.
//
// # Fairness and wake-ups
//
// A call that cannot start at once takes a place in one queue in Redis
// shared by every process, and a slot goes to the head of that queue: a
// newcomer never overtakes a waiting call, and a process that releases a
// slot and asks again at once goes behind the others, so no process starves
// another under steady load. Within a process calls are FIFO too.
//
// A waiting call sleeps until the moment the script computed (the window's
// oldest admission leaving it, the end of a push-back) or until it is woken
// through pub/sub: releases, and admissions that leave a slot free, publish
// the id of the call at the head of the queue, and only that call wakes.
// There is no polling: a waiter runs the script again only when woken, when
// its computed wait is over, or every third of the lease TTL to keep its
// place (a place not kept expires after the lease TTL, so a waiter that was
// killed holds the queue up for at most that long). A wake-up cannot be
// lost: a waiter is registered before its script runs, and when the
// subscription was not yet confirmed, or breaks, every waiter runs its script
// again once it is back.
//
// # Leases and killed processes
//
// A concurrency slot is a lease that expires after the lease TTL
// (WithLeaseTTL, DefaultLeaseTTL 10s). The holder's Limiter renews its leases
// every third of the TTL while the call runs, and release removes the lease
// at once. A process killed with SIGKILL (or cut off from Redis) stops
// renewing, and its slot frees at most one lease TTL after its last renewal.
//
// # When Redis is down
//
// By default, Acquire (and New) fail with an *UnavailableError
// (errors.Is(err, ErrUnavailable)) that names Redis, its address (never the
// password) and what to check: calls are never let through unlimited.
// go-redis itself retries a failed dial for about half a second first.
// With WithFallback, calls go on under the in-process limiter of the same
// policy instead, and a warning is logged through slog: this process stays
// inside the policy, but several processes together may exceed it. Every
// third of the lease TTL the Limiter tries Redis again; once it answers, it
// logs that it is back, puts into Redis the admissions it made and the
// calls it has in flight, and shares the limits again.
//
// Redis may come back without its data (a restart without persistence, a
// flush, an eviction). Every Limiter remembers, for the longest window, the
// admissions it made, and the leases it holds; an epoch key tells a Limiter
// that the state it knew is gone. The first script that finds the epoch
// missing starts a new one and pauses admissions for one lease TTL, during
// which every live Limiter (each checks every third of the TTL while it has
// recent admissions) puts back what it knows: no limit is exceeded across
// the loss. Admissions of a process that died meanwhile are lost with it,
// and a process that never saw the old state and is the first to call after
// the loss starts the new epoch without the pause.
//
// # Push-back
//
// PushBack stores the end of a server's push-back (429 Retry-After,
// RESOURCE_EXHAUSTED with RetryInfo) in Redis, on Redis's clock and capped at
// ratelimit.MaxPushBack: no process of the Scope starts a call before it.
// This process honours it at once even when Redis cannot be reached.
//
// # Policy off
//
// A Limiter of an off policy (ratelimit.Policy.IsOff) never talks to Redis
// and starts no goroutine: Acquire returns at once and PushBack does
// nothing (the client's own push-back gate still holds the process back).
package redislimit
