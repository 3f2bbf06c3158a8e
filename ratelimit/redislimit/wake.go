package redislimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// waker delivers the wake-ups the scripts publish: each message names the
// call at the head of the queue, and only that call's waiter (if it is one of
// this limiter's) is woken. One subscription per limiter, opened the first
// time a call has to wait.
//
// No lost wake-ups: a waiter registers its id before it runs the script that
// queues it, and when the subscription was not confirmed before that run, it
// is woken to run it again once it is. When the subscription
// breaks (Redis restarted, network), every waiter is woken to re-run its
// script, and again once go-redis has subscribed anew; a waiter also never
// sleeps longer than a third of the lease TTL (it refreshes its place then).
type waker struct {
	rdb     redis.UniversalClient
	channel string

	mu      sync.Mutex
	waiters map[string]chan struct{}
	ps      *redis.PubSub
	started bool
	live    bool // subscribed, as confirmed by Redis
	closed  bool
	stop    context.CancelFunc
	done    chan struct{}
}

func newWaker(rdb redis.UniversalClient, channel string) *waker {
	return &waker{rdb: rdb, channel: channel, waiters: map[string]chan struct{}{}}
}

// register returns the channel on which id is woken.
func (w *waker) register(id string) <-chan struct{} {
	c := make(chan struct{}, 1)
	w.mu.Lock()
	w.waiters[id] = c
	w.mu.Unlock()
	return c
}

func (w *waker) unregister(id string) {
	w.mu.Lock()
	delete(w.waiters, id)
	w.mu.Unlock()
}

// isLive reports whether the subscription is confirmed.
func (w *waker) isLive() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (w *waker) wake(id string) {
	w.mu.Lock()
	if c, ok := w.waiters[id]; ok {
		signal(c)
	}
	w.mu.Unlock()
}

func (w *waker) wakeAll() {
	w.mu.Lock()
	for _, c := range w.waiters {
		signal(c)
	}
	w.mu.Unlock()
}

// ensure starts the subscribing goroutine once. It does not wait: the
// goroutine wakes every waiter once Redis has confirmed the subscription, so
// that they run their scripts again.
func (w *waker) ensure() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	ctx, stop := context.WithCancel(context.Background())
	w.ps = w.rdb.Subscribe(ctx, w.channel) // connects on the first Receive
	w.stop, w.done = stop, make(chan struct{})
	go w.receive(ctx, w.ps, w.done)
}

func (w *waker) receive(ctx context.Context, ps *redis.PubSub, done chan struct{}) {
	defer close(done)
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.mu.Lock()
			was := w.live
			w.live = false
			w.mu.Unlock()
			if was {
				w.wakeAll()
			}
			select { // go-redis redials on the next Receive; do not spin while Redis is away
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				w.mu.Lock()
				w.live = true
				w.mu.Unlock()
				w.wakeAll()
			}
		case *redis.Message:
			w.wake(m.Payload)
		}
	}
}

// close ends the subscription and waits for the receiving goroutine.
func (w *waker) close() {
	w.mu.Lock()
	w.closed = true
	ps, stop, done := w.ps, w.stop, w.done
	w.mu.Unlock()
	if ps == nil {
		return
	}
	stop()
	_ = ps.Close()
	<-done
}
