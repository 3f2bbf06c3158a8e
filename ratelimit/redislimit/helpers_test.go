package redislimit

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gokentik/kentik/internal/redisserver"
	"github.com/gokentik/kentik/ratelimit"
)

const pkgName = "ratelimit/redislimit"

func startRedis(t testing.TB) *redisserver.Server {
	t.Helper()
	return redisserver.Start(t, pkgName, redisserver.Options{})
}

func mustParse(t testing.TB, s string) ratelimit.Policy {
	t.Helper()
	p, err := ratelimit.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var testScope = Scope{Account: "ops@example.com", Class: "admin"}

// quiet is a logger that drops everything.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTest returns a limiter on its own go-redis client (standing for a
// process of its own), closed at the end of the test.
func newTest(t testing.TB, srv *redisserver.Server, p ratelimit.Policy, opts ...Option) *Limiter {
	t.Helper()
	rdb := srv.Client(t)
	l, err := New(context.Background(), rdb, testScope, p, append([]Option{WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// log records admissions (Redis time) and call intervals (local time) of
// several limiters.
type callLog struct {
	mu        sync.Mutex
	admits    []int64 // Redis µs
	intervals [][2]time.Time
}

func (c *callLog) hook(l *Limiter) {
	l.onAdmit = func(at int64) {
		c.mu.Lock()
		c.admits = append(c.admits, at)
		c.mu.Unlock()
	}
}

func (c *callLog) call(start, end time.Time) {
	c.mu.Lock()
	c.intervals = append(c.intervals, [2]time.Time{start, end})
	c.mu.Unlock()
}

// checkWindows fails when any window of p ever held more than its Limit
// admissions within its span (Period plus the client margin), by Redis time.
func checkWindows(t *testing.T, admits []int64, p ratelimit.Policy) {
	t.Helper()
	ts := append([]int64(nil), admits...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	for _, w := range p.Windows {
		sp := ceilMicro(span(w.Period))
		for i := w.Limit; i < len(ts); i++ {
			if gap := ts[i] - ts[i-w.Limit]; gap < sp {
				t.Fatalf("window %v: admissions %d and %d are %dµs apart, want >= %dµs", w, i-w.Limit, i, gap, sp)
			}
		}
	}
}

// maxOverlap is the largest number of intervals open at one instant.
func maxOverlap(iv [][2]time.Time) int {
	type ev struct {
		at    time.Time
		delta int
	}
	var evs []ev
	for _, x := range iv {
		evs = append(evs, ev{x[0], 1}, ev{x[1], -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at.Equal(evs[j].at) {
			return evs[i].delta < evs[j].delta // an end before a start at the same instant
		}
		return evs[i].at.Before(evs[j].at)
	})
	n, m := 0, 0
	for _, e := range evs {
		n += e.delta
		m = max(m, n)
	}
	return m
}

// keysOf lists the limiter's keys in Redis.
func keysOf(t testing.TB, rdb *redis.Client, l *Limiter) []string {
	t.Helper()
	ks, err := rdb.Keys(context.Background(), l.Key()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ks)
	return ks
}

type ratelimitPolicy = ratelimit.Policy

func parseRatelimit(s string) (ratelimit.Policy, error) { return ratelimit.Parse(s) }

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

// newNowhereClient is a client of a loopback port nothing listens on.
func newNowhereClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedAddr is a loopback address on which nothing listens (a port just freed).
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
