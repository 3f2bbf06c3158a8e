package kentiktest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// OutageMode is how the fake is out of reach during an Outage.
type OutageMode int

const (
	// OutageUnavailable keeps the listeners open but answers every v6 call (gRPC and the
	// REST mapping) UNAVAILABLE and every V5 request 503 Service Unavailable, as a front
	// end whose backends are down does. Credentials are still checked first; the refused
	// calls use up no rate limit and are counted in Stats under RejectOutage. The health
	// service reports every v6 service NOT_SERVING (in both modes).
	OutageUnavailable OutageMode = iota + 1
	// OutageRefuse closes every open connection of both APIs and refuses new ones: the
	// listeners are closed for the duration (a client's connect fails with "connection
	// refused") and opened again on the same addresses when it ends. A listener given
	// with WithGRPCListener or WithHTTPListener cannot be opened again: it stays open,
	// and each connection it accepts during the outage is closed at once.
	OutageRefuse
)

// String returns "unavailable" or "refuse".
func (m OutageMode) String() string {
	switch m {
	case OutageUnavailable:
		return "unavailable"
	case OutageRefuse:
		return "refuse"
	}
	return fmt.Sprintf("OutageMode(%d)", int(m))
}

// Outage makes the fake unreachable, in the given mode, for d from now: a deploy or a
// network failure on Kentik's side, for tests of clients that must ride one out. An
// outage already under way is replaced by the new one. d <= 0 ends the current outage
// at once (the mode is then ignored). Close and ClearFaults end an outage too.
func (s *Server) Outage(d time.Duration, mode OutageMode) error {
	if d <= 0 {
		s.outage.end(0)
		return nil
	}
	if mode != OutageUnavailable && mode != OutageRefuse {
		return fmt.Errorf("kentiktest: unknown outage mode %d (want OutageUnavailable or OutageRefuse)", int(mode))
	}
	s.outage.start(d, mode, s.health)
	return nil
}

// outage is the state of the outage fault. Its listeners wrap the server's, so that a
// refusing outage can close them and their connections without stopping the servers:
// neither grpc.Server nor http.Server can drop its connections and keep serving, so this
// is done below them, on the listener and the connections it hands out.
type outage struct {
	log         *slog.Logger
	unavailable atomic.Bool // the gate's fast path: one load per call

	mu     sync.Mutex
	health *health.Server // told that the v6 services are down during an outage
	mode   OutageMode     // 0: none
	gen    int            // which outage the timer ends: a replaced outage's timer does nothing
	timer  *time.Timer
	closed bool
	lis    []*outageListener
}

func newOutage(log *slog.Logger) *outage { return &outage{log: log} }

// wrap returns l wrapped so that outages can close it; reopen says whether the fake
// opened l itself (by address), so that it can listen there again after an outage.
func (o *outage) wrap(l net.Listener, reopen bool) net.Listener {
	ol := &outageListener{
		cur: l, addr: l.Addr(), reopen: reopen, log: o.log,
		up: closedChan(), conns: map[*trackedConn]struct{}{},
	}
	o.mu.Lock()
	o.lis = append(o.lis, ol)
	o.mu.Unlock()
	return ol
}

func (o *outage) start(d time.Duration, mode OutageMode, h *health.Server) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.health = h
	if o.mode == OutageRefuse && mode != OutageRefuse {
		for _, l := range o.lis {
			l.restore()
		}
	}
	if mode == OutageRefuse {
		for _, l := range o.lis {
			l.refuse()
		}
	}
	o.mode = mode
	o.unavailable.Store(mode == OutageUnavailable)
	o.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	o.gen++
	gen := o.gen
	if o.timer != nil {
		o.timer.Stop()
	}
	o.timer = time.AfterFunc(d, func() { o.end(gen) })
	o.log.Info("outage started", slog.String("mode", mode.String()), slog.Duration("for", d))
}

// end ends the outage of generation gen, or whatever outage there is when gen is 0.
func (o *outage) end(gen int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode == 0 || gen != 0 && gen != o.gen {
		return
	}
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if o.mode == OutageRefuse {
		for _, l := range o.lis {
			l.restore()
		}
	}
	o.mode = 0
	o.unavailable.Store(false)
	o.setHealth(healthpb.HealthCheckResponse_SERVING)
	o.log.Info("outage ended")
}

// close ends any outage for good, without opening the listeners again: the server is
// closing them.
func (o *outage) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.mode = 0
	o.unavailable.Store(false)
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
}

// setHealth reports the health of every v6 service, as newGRPCServer registered them
// (a closed health server ignores it).
func (o *outage) setHealth(st healthpb.HealthCheckResponse_ServingStatus) {
	if o.health == nil {
		return
	}
	for _, svc := range v6Methods().services {
		o.health.SetServingStatus(svc.Name, st)
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// outageListener is a listener that a refusing outage can close and open again while
// the server keeps calling Accept, and whose connections it can close.
type outageListener struct {
	addr   net.Addr
	reopen bool
	log    *slog.Logger

	mu     sync.Mutex
	cur    net.Listener  // nil while closed by an outage
	down   bool          // in a refusing outage
	up     chan struct{} // closed when the outage ends or the listener is closed
	closed bool
	conns  map[*trackedConn]struct{}
}

// Accept waits out a refusing outage, then accepts from the listener of the moment.
func (l *outageListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		cur, up := l.cur, l.up
		l.mu.Unlock()
		if cur == nil {
			<-up
			continue
		}
		c, err := cur.Accept()
		l.mu.Lock()
		switch {
		case l.closed:
			l.mu.Unlock()
			if c != nil {
				c.Close()
			}
			return nil, net.ErrClosed
		case err != nil && cur != l.cur:
			l.mu.Unlock() // closed by an outage: wait for the next listener
			continue
		case err != nil:
			l.mu.Unlock()
			return nil, err
		case l.down:
			l.mu.Unlock() // a listener that could not be closed: refuse the connection
			c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, l: l}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// refuse starts a refusing outage: the listener is closed (when it can be opened
// again) and every connection is closed.
func (l *outageListener) refuse() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	if !l.down {
		l.down = true
		l.up = make(chan struct{})
	}
	var old net.Listener
	if l.reopen && l.cur != nil {
		old, l.cur = l.cur, nil
	}
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	clear(l.conns)
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	for _, c := range conns {
		c.Conn.Close()
	}
}

// restore ends a refusing outage: the listener listens again on its address.
func (l *outageListener) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down || l.closed {
		return
	}
	if l.cur == nil {
		nl, err := net.Listen(l.addr.Network(), l.addr.String())
		if err != nil {
			// The port was taken meanwhile: the server stays out of reach.
			l.log.Error("outage: cannot listen again", slog.String("addr", l.addr.String()), slog.Any("err", err))
			return
		}
		l.cur = nl
	}
	l.down = false
	close(l.up)
}

// Close closes the listener for good (the server is stopping).
func (l *outageListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.down {
		close(l.up)
	}
	if l.cur == nil {
		return nil
	}
	err := l.cur.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Addr returns the address the listener was opened on, which it keeps across outages.
func (l *outageListener) Addr() net.Addr { return l.addr }

// trackedConn is a connection the listener can close in an outage.
type trackedConn struct {
	net.Conn
	l *outageListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
