package classify

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// TestBatchSizeBound: a batch size beyond MaxBatchSize is refused by Load, whatever its
// size (math.MaxInt used to overflow the request count to 0, and 1,000,000 built a 9 MB
// request the server refuses), and every size up to it gives counts that add up.
func TestBatchSizeBound(t *testing.T) {
	path := genPlan(t, t.TempDir(), 2503)
	for _, n := range []int{MaxBatchSize + 1, 1_000_000, math.MaxInt32, math.MaxInt, -1, math.MinInt} {
		if p, err := Load(context.Background(), path, Options{BatchSize: n}); err == nil {
			p.Close()
			t.Errorf("batch size %d accepted", n)
		} else if !strings.Contains(err.Error(), "BatchSize") {
			t.Errorf("batch size %d: %v does not name the option", n, err)
		}
	}
	for _, n := range []int{1, 7, 1000, MaxBatchSize} {
		p := mustLoad(t, path, Options{BatchSize: n})
		bs := allBatches(t, p)
		if p.Requests() != len(bs) || p.Requests() <= 0 || len(rowsOf(t, bs)) != 2503 {
			t.Errorf("batch size %d: %d requests planned, %d batches", n, p.Requests(), len(bs))
		}
	}
}

// TestCeilDiv: the request count never overflows, whatever the counts.
func TestCeilDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, want int }{
		{0, 5, 0}, {1, 5, 1}, {5, 5, 1}, {6, 5, 2},
		{3, math.MaxInt, 1}, {math.MaxInt, math.MaxInt, 1}, {math.MaxInt, 1, math.MaxInt}, {math.MaxInt, 2, math.MaxInt/2 + 1},
	} {
		if got := ceilDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("ceilDiv(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLargestRequest: the largest request a plan can make (MaxBatchSize ids of the
// longest form Load accepts, the longest provider) fits well inside gRPC's default 4 MiB
// receive limit, which servers keep unless they say otherwise.
func TestLargestRequest(t *testing.T) {
	ids := make([]string, MaxBatchSize)
	for i := range ids {
		ids[i] = "18446744073709551615" // the largest 64-bit id: the longest that isInterfaceID accepts
	}
	c := Classification{ConnectivityType: transit, NetworkBoundary: external, Provider: strings.Repeat("\U0010FFFD", maxProviderLen/4)}
	size := proto.Size(c.Request(ids))
	if size > maxRequestBytes || maxRequestBytes > 4<<20/4 {
		t.Errorf("the largest request is %d bytes; the bound is %d, gRPC's default limit %d", size, maxRequestBytes, 4<<20)
	}
	t.Logf("largest request: %d bytes (%.1f%% of 4 MiB)", size, 100*float64(size)/(4<<20))
}
