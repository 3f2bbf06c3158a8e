package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gokentik/kentik/ratelimit"
)

// Limiter is a ratelimit.Limiter and ratelimit.Pusher whose state lives in
// Redis, shared by every process of an account (see the package
// documentation). It is safe for concurrent use; Close it when done.
type Limiter struct {
	rdb        redis.UniversalClient
	owned      bool // made by NewFromURL: Close closes it
	addr       string
	policy     string // as Policy.String prints it, for WaitError
	off        bool
	local      ratelimit.Limiter
	localPush  ratelimit.Pusher
	keys       keySet
	conc       int
	spansUS    []int64
	winArgs    []any // limit, span µs, per window
	maxSpanUS  int64
	maxLimit   int
	ttl        time.Duration
	fallbackOK bool
	log        *slog.Logger
	idPrefix   string
	seq        atomic.Uint64
	wake       *waker

	mu          sync.Mutex
	epoch       string              // the epoch of Redis's state this limiter last saw ("" before the first reply)
	held        map[string]struct{} // leases of calls in flight
	hist        []admission         // recent admissions, oldest first, for a restore
	falling     bool                // in fallback
	renewFailed bool                // the last renewal failed (logged once)
	offsetUS    int64               // Redis time minus local Unix time at the last admission, µs

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}

	// Test hooks: the Redis time of every admission and release (µs).
	onAdmit   func(at int64)
	onRelease func(at int64)
}

type admission struct {
	id string
	at int64 // Redis time, µs
}

// New returns the Limiter of scope under policy p, on rdb (a *redis.Client,
// *redis.ClusterClient, *redis.Ring or any UniversalClient; the caller keeps
// it and closes it after the Limiter). Equivalent policies (the same
// concurrency cap and hard windows, whatever their name, soft limits or order
// of windows) share their state; different ones do not (see the package
// documentation).
//
// New checks that Redis answers (bounded by ctx): when it does not, New fails
// with an *UnavailableError, or with WithFallback returns a Limiter that
// starts in fallback. An invalid policy, scope or option fails New. An off
// policy (p.IsOff) gets a Limiter that never waits and never talks to Redis.
func New(ctx context.Context, rdb redis.UniversalClient, scope Scope, p ratelimit.Policy, opts ...Option) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("redislimit: New: the Redis client is nil")
	}
	return newLimiter(ctx, rdb, false, scope, p, buildSettings(opts))
}

// NewFromURL is New with a client of its own for a Redis URL as go-redis
// parses it: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (TLS with rediss://,
// see WithTLSConfig; unix:// sockets too). Close closes the client.
// Errors never include the URL's password.
func NewFromURL(ctx context.Context, rawURL string, scope Scope, p ratelimit.Policy, opts ...Option) (*Limiter, error) {
	s := buildSettings(opts)
	rdb, err := Client(rawURL, s.tls)
	if err != nil {
		return nil, err
	}
	l, err := newLimiter(ctx, rdb, true, scope, p, s)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return l, nil
}

func newLimiter(ctx context.Context, rdb redis.UniversalClient, owned bool, scope Scope, p ratelimit.Policy, s settings) (*Limiter, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := scope.validate(); err != nil {
		return nil, err
	}
	if s.leaseTTL < MinLeaseTTL {
		return nil, fmt.Errorf("redislimit: lease TTL %v is shorter than the minimum %v", s.leaseTTL, MinLeaseTTL)
	}
	if s.prefix == "" || strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redislimit: key prefix %q must be non-empty and without braces", s.prefix)
	}
	c := p.ClientPart()
	l := &Limiter{rdb: rdb, owned: owned, addr: addrOf(rdb), policy: p.String(), off: p.IsOff(), log: s.logger}
	if l.off {
		return l, nil
	}
	for _, w := range c.Windows {
		if w.Period < time.Microsecond {
			return nil, fmt.Errorf("redislimit: window %v: Redis counts time in microseconds, periods must be at least 1µs", w)
		}
		sp := ceilMicro(span(w.Period))
		l.spansUS = append(l.spansUS, sp)
		l.winArgs = append(l.winArgs, w.Limit, sp)
		l.maxSpanUS = max(l.maxSpanUS, sp)
		l.maxLimit = max(l.maxLimit, w.Limit)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	l.local = ratelimit.New(p)
	l.localPush, _ = l.local.(ratelimit.Pusher)
	l.keys = newKeySet(s.prefix, scope, c)
	l.conc = c.Concurrency
	l.ttl = s.leaseTTL
	l.fallbackOK = s.fallback
	l.idPrefix = hex.EncodeToString(rnd[:]) + "-"
	l.wake = newWaker(rdb, l.keys.wake)
	l.held = map[string]struct{}{}
	l.stop, l.done = make(chan struct{}), make(chan struct{})

	if err := l.heartbeat(ctx); err != nil {
		if !l.fallbackOK {
			return nil, l.unavailable("connect", err)
		}
		l.enterFallback(err)
	}
	go l.renewer()
	return l, nil
}

// Key returns the common part of the limiter's Redis keys (its prefix, then
// in braces the account hash, the class and the policy hash), for operators
// who look at Redis; "" for an off policy.
func (l *Limiter) Key() string { return l.keys.base }

func noop() {}

// Acquire implements ratelimit.Limiter with the semantics of ratelimit.New's
// limiter, across every process that shares the scope: it returns when a
// call may start, or fails with a *ratelimit.WaitError (errors.Is
// ratelimit.ErrLimited) when ctx is done or its deadline comes before the
// earliest slot Redis can foresee, or with an *UnavailableError when Redis
// cannot be used and there is no fallback.
func (l *Limiter) Acquire(ctx context.Context) (func(), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if l.off {
		if err := ctx.Err(); err != nil {
			return nil, &ratelimit.WaitError{Policy: l.policy, Cause: err}
		}
		return noop, nil
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	relLocal, err := l.local.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	relShared, err := l.acquireShared(ctx)
	if err != nil {
		relLocal()
		return nil, err
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			relShared()
			relLocal()
		}
	}, nil
}

// acquireShared takes a slot in Redis, waiting in the shared queue.
func (l *Limiter) acquireShared(ctx context.Context) (func(), error) {
	if l.inFallback() {
		return l.admitFallback(), nil
	}
	id := l.newID()
	woken := l.wake.register(id)
	defer l.wake.unregister(id)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	queued, restores := false, 0
	for {
		live := l.wake.isLive()
		remaining := int64(-1)
		if dl, ok := ctx.Deadline(); ok {
			remaining = max(0, time.Until(dl).Microseconds())
		}
		r, err := l.run(ctx, acquireScript, append([]any{id, l.knownEpoch(), l.ttl.Microseconds(), l.conc, remaining, l.keys.wake}, l.winArgs...))
		if err != nil {
			return l.failed(ctx, id, queued, "acquire", err)
		}
		switch r.code {
		case codeAdmitted:
			l.admitted(id, r.epoch, r.num(0))
			return l.releaseFunc(id), nil
		case codeTooLate:
			l.adopt(r.epoch)
			return nil, &ratelimit.WaitError{Wait: micros(r.num(0)), Policy: l.policy, Cause: context.DeadlineExceeded}
		case codeRestore:
			if restores++; restores > 3 {
				return l.failed(ctx, id, queued, "acquire", errors.New("Redis lost its state again and again while this limiter put back what it knew"))
			}
			if err := l.restore(ctx, r.epoch); err != nil {
				return l.failed(ctx, id, queued, "restore", err)
			}
			continue
		case codeQueued:
		default:
			return l.failed(ctx, id, queued, "acquire", fmt.Errorf("unexpected script reply code %d", r.code))
		}
		queued = true
		l.adopt(r.epoch)
		if !live {
			// The run above may have been published about before we
			// listened: the waker wakes us to run it again once it listens.
			l.wake.ensure()
		}
		d := l.sleepFor(r)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-woken: // Reset discards a stale tick (Go 1.23 timers)
		case <-timer.C:
		case <-ctx.Done():
			l.cancel(id)
			return nil, &ratelimit.WaitError{Wait: micros(r.num(1)), Policy: l.policy, Cause: ctx.Err()}
		}
	}
}

// failed turns an error of Redis into Acquire's result: the context's error
// when it is done, the fallback when allowed, or an *UnavailableError.
func (l *Limiter) failed(ctx context.Context, id string, queued bool, op string, err error) (func(), error) {
	if ctx.Err() != nil {
		if queued {
			l.cancel(id)
		}
		return nil, &ratelimit.WaitError{Policy: l.policy, Cause: ctx.Err()}
	}
	if l.fallbackOK {
		l.enterFallback(err) // a place left in the queue expires with the lease TTL
		return l.admitFallback(), nil
	}
	return nil, l.unavailable(op, err)
}

// sleepFor is how long a queued call sleeps before it runs the script again,
// unless woken first: until the head's slot can free (windows, push-back,
// the earliest lease expiry), or until the estimate for a call further back;
// never longer than a third of the lease TTL, which keeps its place alive.
func (l *Limiter) sleepFor(r reply) time.Duration {
	d := l.ttl / 3
	wait, est, lease, ahead := r.num(0), r.num(1), r.num(2), r.num(3)
	switch {
	case ahead == 0 && wait > 0:
		d = min(d, micros(wait))
	case ahead == 0 && lease > 0:
		d = min(d, micros(lease)+time.Millisecond)
	case ahead > 0 && est > 0:
		d = min(d, micros(est))
	}
	return max(d, time.Microsecond)
}

// run runs a script on the limiter's keys and decodes its reply.
func (l *Limiter) run(ctx context.Context, s *redis.Script, args []any) (reply, error) {
	v, err := s.Run(ctx, l.rdb, l.keys.all, args...).Result()
	if err != nil {
		return reply{}, err
	}
	return decodeReply(v)
}

// opTimeout bounds the Redis calls made outside of an Acquire (release,
// cancel, push-back, renewal).
func (l *Limiter) opTimeout() time.Duration { return min(l.ttl/3, 2*time.Second) }

// cancel gives up id's place in the queue (best effort: it expires anyway).
func (l *Limiter) cancel(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancel()
	_ = cancelScript.Run(ctx, l.rdb, l.keys.all, id, l.keys.wake).Err()
}

// admitted records an admission made by Redis at time at (µs).
func (l *Limiter) admitted(id, epoch string, at int64) {
	l.mu.Lock()
	l.adoptLocked(epoch)
	l.offsetUS = at - time.Now().UnixMicro()
	l.recordLocked(id, at)
	hook := l.onAdmit
	l.mu.Unlock()
	if hook != nil {
		hook(at)
	}
}

// admitFallback records an admission made by the in-process limiter alone,
// at Redis's time as last estimated, so that it can be put back in Redis.
func (l *Limiter) admitFallback() func() {
	id := l.newID()
	l.mu.Lock()
	at := time.Now().UnixMicro() + l.offsetUS
	l.recordLocked(id, at)
	hook := l.onAdmit
	l.mu.Unlock()
	if hook != nil {
		hook(at)
	}
	return l.releaseFunc(id)
}

// recordLocked notes an admission in the history and, with a concurrency
// cap, its lease. l.mu held.
func (l *Limiter) recordLocked(id string, at int64) {
	if l.conc > 0 {
		l.held[id] = struct{}{}
	}
	if l.maxLimit == 0 {
		return
	}
	i := 0
	for i < len(l.hist) && (l.hist[i].at <= at-l.maxSpanUS || len(l.hist)-i >= min(l.maxLimit, maxHistory)) {
		i++
	}
	l.hist = append(l.hist[i:], admission{id: id, at: at})
}

// maxHistory caps the admissions a limiter remembers for a restore (the
// largest window limit, but no more than this): memory stays bounded under
// policies with huge limits, for which a restore then puts back only the
// most recent admissions.
const maxHistory = 1 << 16

// releaseFunc returns the release of call id: its lease leaves Redis (unless
// the limiter is in fallback; a lease left behind expires with its TTL) and
// the head of the queue is woken.
func (l *Limiter) releaseFunc(id string) func() {
	return func() {
		l.mu.Lock()
		delete(l.held, id)
		falling := l.falling
		l.mu.Unlock()
		if l.conc == 0 || falling {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
		defer cancel()
		at, err := releaseScript.Run(ctx, l.rdb, l.keys.all, id, l.keys.wake).Int64()
		if err != nil {
			l.log.Debug("redislimit: release failed; the lease expires with its TTL", "redis", l.addr, "key", l.keys.base, "ttl", l.ttl, "err", err)
			return
		}
		if l.onRelease != nil {
			l.onRelease(at)
		}
	}
}

// PushBack implements ratelimit.Pusher: no call of any limiter of the scope
// starts before now+d on Redis's clock (d capped at ratelimit.MaxPushBack; a
// later, shorter push-back does not shorten it). This process honours it at
// once, even when Redis cannot be reached. An off policy ignores it.
func (l *Limiter) PushBack(d time.Duration) {
	if d <= 0 || l.off || l.closed.Load() {
		return
	}
	d = ratelimit.ClampPushBack(d)
	if l.localPush != nil {
		l.localPush.PushBack(d)
	}
	if l.inFallback() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancel()
	if err := pushBackScript.Run(ctx, l.rdb, l.keys.all, ceilMicro(d), l.keys.wake).Err(); err != nil {
		l.log.Warn("redislimit: the server's push-back could not be shared through Redis; only this process honours it",
			"redis", l.addr, "key", l.keys.base, "pushback", d, "err", err)
	}
}

// Close stops the renewal of leases and the subscription, and closes the
// Redis client when NewFromURL made it. Call it after the calls it admitted
// have been released (the leases of calls still in flight then expire with
// their TTL). Acquire fails with ErrClosed afterwards. Close is idempotent.
func (l *Limiter) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		if !l.off {
			close(l.stop)
			<-l.done
			l.wake.close()
		}
		if l.owned {
			err = l.rdb.Close()
		}
	})
	return err
}

func (l *Limiter) newID() string {
	return l.idPrefix + strconv.FormatUint(l.seq.Add(1), 36)
}

func (l *Limiter) knownEpoch() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

func (l *Limiter) adopt(epoch string) {
	l.mu.Lock()
	l.adoptLocked(epoch)
	l.mu.Unlock()
}

// adoptLocked takes Redis's epoch when the limiter knew none (a limiter
// that knew one changes it only through restore). l.mu held.
func (l *Limiter) adoptLocked(epoch string) {
	if l.epoch == "" {
		l.epoch = epoch
	}
}

func (l *Limiter) unavailable(op string, err error) error {
	return &UnavailableError{Addr: l.addr, Op: op, Err: err}
}

func (l *Limiter) inFallback() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.falling
}

func (l *Limiter) enterFallback(err error) {
	l.mu.Lock()
	was := l.falling
	l.falling = true
	l.mu.Unlock()
	if !was {
		l.log.Warn("redislimit: Redis cannot be used; falling back to an in-process limiter, which limits this process alone (calls of several processes may exceed the account's limits until Redis is back)",
			"redis", l.addr, "key", l.keys.base, "policy", l.policy, "retry_every", l.ttl/3, "err", err)
	}
}

// addrOf returns the address(es) of a go-redis client, for error messages.
func addrOf(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		var as []string
		for _, a := range c.Options().Addrs {
			as = append(as, a)
		}
		return strings.Join(as, ",")
	}
	return ""
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// ceilMicro is d in microseconds, rounded up.
func ceilMicro(d time.Duration) int64 {
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}

var (
	_ ratelimit.Limiter = (*Limiter)(nil)
	_ ratelimit.Pusher  = (*Limiter)(nil)
)
