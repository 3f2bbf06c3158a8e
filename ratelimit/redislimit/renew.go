package redislimit

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// renewer runs every third of the lease TTL while the limiter lives: it
// renews the leases of calls in flight, checks that Redis still has the state
// this limiter's recent admissions are part of (and puts them back when it
// lost it), and in fallback tries Redis again. It does nothing (no Redis
// traffic) when there is nothing in flight, no admission within the longest
// window and no fallback.
func (l *Limiter) renewer() {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.tick()
		}
	}
}

func (l *Limiter) tick() {
	l.mu.Lock()
	ids := make([]any, 0, len(l.held))
	for id := range l.held {
		ids = append(ids, id)
	}
	falling := l.falling
	recent := len(l.hist) > 0 && l.hist[len(l.hist)-1].at > time.Now().UnixMicro()+l.offsetUS-l.maxSpanUS
	known := l.epoch
	l.mu.Unlock()
	if len(ids) == 0 && !recent && !falling {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancel()
	r, err := l.renew(ctx, known, ids)
	if err == nil && (r.code == codeRestore || falling) {
		err = l.restore(ctx, r.epoch)
	}
	l.mu.Lock()
	failedBefore := l.renewFailed
	l.renewFailed = err != nil
	l.mu.Unlock()
	if err != nil {
		if !falling && !failedBefore {
			l.log.Warn("redislimit: cannot renew leases in Redis; a call in flight may lose its slot after the lease TTL",
				"redis", l.addr, "key", l.keys.base, "ttl", l.ttl, "err", err)
		}
		return
	}
	if r.code == codeQueued && r.num(0) > 0 {
		l.log.Warn("redislimit: leases had expired in Redis before their renewal (a pause longer than two thirds of the lease TTL?); put back",
			"redis", l.addr, "key", l.keys.base, "lost", r.num(0), "ttl", l.ttl)
	}
	if falling {
		l.mu.Lock()
		l.falling = false
		l.mu.Unlock()
		// Once more for the fallback admissions made during the first
		// restore (ZADD NX: what is there already stays as it is).
		if err := l.restore(ctx, r.epoch); err != nil {
			l.log.Warn("redislimit: Redis answers again, but not all of this process's fallback admissions could be put back",
				"redis", l.addr, "key", l.keys.base, "err", err)
		}
		l.log.Info("redislimit: Redis answers again; the limiter is shared again (this process's recent admissions and calls in flight were put back)",
			"redis", l.addr, "key", l.keys.base)
	}
}

// heartbeat checks that Redis answers and learns its epoch.
func (l *Limiter) heartbeat(ctx context.Context) error {
	r, err := l.renew(ctx, "", nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.adoptLocked(r.epoch)
	if len(r.nums) >= 2 {
		l.offsetUS = r.num(1) - time.Now().UnixMicro()
	}
	l.mu.Unlock()
	return nil
}

// renew runs renewScript for the leases ids.
func (l *Limiter) renew(ctx context.Context, known string, ids []any) (reply, error) {
	args := append([]any{known, l.newID(), l.ttl.Microseconds()}, ids...)
	r, err := l.run(ctx, renewScript, args)
	if err != nil {
		return r, err
	}
	if r.code != codeQueued && r.code != codeRestore {
		return r, fmt.Errorf("unexpected renewal reply code %d", r.code)
	}
	return r, nil
}

// restore puts this limiter's leases and recent admissions back into Redis
// under epoch, then adopts it.
func (l *Limiter) restore(ctx context.Context, epoch string) error {
	l.mu.Lock()
	args := []any{epoch, l.ttl.Microseconds(), l.keys.wake, len(l.spansUS)}
	for _, sp := range l.spansUS {
		args = append(args, sp)
	}
	args = append(args, len(l.held))
	for id := range l.held {
		args = append(args, id)
	}
	for _, a := range slices.Clone(l.hist) {
		args = append(args, a.id, a.at)
	}
	l.mu.Unlock()
	r, err := l.run(ctx, restoreScript, args)
	if err != nil {
		return err
	}
	if r.code != codeQueued {
		// The state changed again; the next script run starts over.
		return nil
	}
	l.mu.Lock()
	l.epoch = epoch
	l.mu.Unlock()
	return nil
}
