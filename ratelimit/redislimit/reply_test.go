package redislimit

import (
	"encoding/binary"
	"testing"
)

// FuzzDecodeReply: whatever Redis (or something else on its port) answers,
// decoding never panics, and a reply it accepts has the code, the epoch and
// only integers after them.
func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte{0, 1, 1, 'e', 2, 5, 2, 7})
	f.Add([]byte{0, 1, 1, 'e', 0, 5, 0, 9})
	f.Add([]byte{1, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Each element: a kind byte (0 int, 1 string, 2 nested array, else nil) and a value.
		var v []any
		for len(b) >= 2 {
			kind, x := b[0]%4, b[1]
			b = b[2:]
			switch kind {
			case 0:
				v = append(v, int64(binary.LittleEndian.Uint16([]byte{x, x})))
			case 1:
				v = append(v, string(rune(x)))
			case 2:
				v = append(v, []any{int64(x)})
			default:
				v = append(v, nil)
			}
		}
		for _, in := range []any{v, any(nil), "x", int64(3)} {
			r, err := decodeReply(in)
			if err != nil {
				continue
			}
			a := in.([]any)
			if len(r.nums) != len(a)-2 || r.code != a[0].(int64) || r.epoch != a[1].(string) {
				t.Fatalf("decodeReply(%v) = %+v", in, r)
			}
			_ = r.num(-1 + len(r.nums) + 5) // out of range: 0, no panic
		}
	})
}

// The history keeps what a restore needs: admissions within the longest
// span, at most the largest limit of them.
func TestHistoryBounds(t *testing.T) {
	l := &Limiter{held: map[string]struct{}{}, maxLimit: 3, maxSpanUS: 100}
	for i := range int64(5) {
		l.recordLocked("a", i)
	}
	if len(l.hist) != 3 || l.hist[0].at != 2 {
		t.Errorf("after 5 admissions under a limit of 3: %+v", l.hist)
	}
	l.recordLocked("b", 250)
	if len(l.hist) != 1 || l.hist[0].at != 250 {
		t.Errorf("after the span passed: %+v", l.hist)
	}
	l.conc = 1
	l.recordLocked("c", 251)
	if _, ok := l.held["c"]; !ok {
		t.Error("a lease is not held")
	}
}
