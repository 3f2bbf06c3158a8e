package ratelimit

import "math"

// ring records recent admissions for one rolling window. Times are
// nanoseconds on a monotonic scale private to the owner (never negative and
// never decreasing).
//
// Admissions are kept in buckets: a bucket holds the admissions made within
// gran of its first one, and stands for all of them at its latest time. For
// every realistic limit gran is 0, so a bucket only merges admissions made at
// the very same instant and the record is exact; for huge limits (more than
// 1<<16 calls per window) gran is span/2^16 so memory stays bounded, at the
// cost of treating some admissions as up to gran later than they were (which
// errs on the safe side).
//
// Each bucket carries the cumulative number of admissions up to and including
// it (c), so the k-th most recent admission is found by binary search.
type ring struct {
	limit int64 // the window's limit
	keep  int64 // how many of the most recent admissions must stay available (>= limit)
	span  int64 // window length, ns (period, plus the client's margin)
	gran  int64 // bucket granularity, ns

	buf   []bucket // circular; len is 0 or a power of two
	head  int      // index of the oldest bucket
	n     int      // number of buckets
	total int64    // admissions ever recorded
	gone  int64    // admissions with rank <= gone were dropped (expired, or older than keep)
}

type bucket struct {
	s int64 // time of its first admission
	t int64 // time of its latest admission
	c int64 // cumulative admissions up to and including this bucket
}

const exactLimit = 1 << 16

func newRing(limit int, span int64, extra int64) ring {
	r := ring{limit: int64(limit), keep: int64(limit) + extra, span: span}
	if r.limit > exactLimit {
		r.gran = span >> 16
	}
	return r
}

func (r *ring) at(i int) *bucket { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// prune drops buckets that no longer matter at time now: those wholly outside
// the window, and those older than the keep most recent admissions.
func (r *ring) prune(now int64) {
	for r.n > 0 {
		f := r.at(0)
		if now-f.t < r.span && r.total-f.c < r.keep {
			return
		}
		r.gone = f.c
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.n--
	}
	r.head = 0
}

// record notes one admission at time now.
func (r *ring) record(now int64) {
	r.prune(now)
	r.total++
	if r.n > 0 {
		if b := r.at(r.n - 1); now-b.s <= r.gran {
			if now > b.t {
				b.t = now
			}
			b.c = r.total
			r.prune(now)
			return
		}
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	*r.at(r.n) = bucket{s: now, t: now, c: r.total}
	r.n++
	r.prune(now)
}

func (r *ring) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 8
	}
	nb := make([]bucket, size)
	for i := 0; i < r.n; i++ {
		nb[i] = *r.at(i)
	}
	r.buf = nb
	r.head = 0
}

// earliest returns the earliest time at which the (j+1)-th next admission
// could be made as far as the already recorded admissions are concerned
// (0 <= j < limit): the admission of rank total-limit+1+j must have left the
// window. ok is false when no recorded admission stands in the way.
func (r *ring) earliest(j int64) (at int64, ok bool) {
	rank := r.total - r.limit + 1 + j
	if rank <= r.gone || rank > r.total {
		return 0, false
	}
	lo, hi := 0, r.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.at(mid).c >= rank {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == r.n { // cannot happen: rank <= total == c of the newest bucket
		return 0, false
	}
	return addSat(r.at(lo).t, r.span), true
}

// wait returns how long after now the next admission must wait (0 if none).
func (r *ring) wait(now int64) int64 {
	if at, ok := r.earliest(0); ok && at > now {
		return at - now
	}
	return 0
}

// estimate returns a lower bound of the time at which the (j+1)-th next
// admission could be made, counting the j admissions before it, which must
// themselves respect the window (j >= 0).
func (r *ring) estimate(now, j int64) int64 {
	first := now
	if at, ok := r.earliest(j % r.limit); ok && at > first {
		first = at
	}
	k := j / r.limit
	if k > 0 && r.span > 0 {
		if k > math.MaxInt64/r.span {
			return math.MaxInt64
		}
		return addSat(first, k*r.span)
	}
	return first
}

// count returns the number of admissions in the window at time now, capped
// a little above keep (exact while it is at most keep).
func (r *ring) count(now int64) int64 {
	r.prune(now)
	return r.total - r.gone
}

// addSat adds two non-negative int64s, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
