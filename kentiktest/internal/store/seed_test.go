package store

import (
	"runtime"
	"strconv"
	"testing"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func TestSeedDeterministic(t *testing.T) {
	a, b, c := New(nil), New(nil), New(nil)
	a.Seed(1000, 42)
	prev := runtime.GOMAXPROCS(1) // a different worker split must not matter
	b.Seed(1000, 42)
	runtime.GOMAXPROCS(prev)
	c.Seed(1000, 43)
	if !equalAll(a.All(), b.All()) {
		t.Error("same seed gave different stores")
	}
	if equalAll(a.All(), c.All()) {
		t.Error("different seeds gave the same store")
	}
}

func TestSeedShape(t *testing.T) {
	s := New(nil)
	const n = 20_000
	devices, err := s.Seed(n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + PerDevice - 1) / PerDevice; devices != want {
		t.Errorf("devices = %d, want %d", devices, want)
	}
	all := s.All()
	if len(all) != n || s.Len() != n {
		t.Fatalf("got %d interfaces, Len %d", len(all), s.Len())
	}
	if all[0].GetId() != strconv.Itoa(FirstID) || all[n-1].GetId() != strconv.Itoa(FirstID+n-1) {
		t.Errorf("ids %s..%s", all[0].GetId(), all[n-1].GetId())
	}
	perDevice := map[string]int{}
	ipc := map[ipClass]int{}
	speeds := map[int32]int{}
	classified := 0
	for _, in := range all {
		perDevice[in.GetDeviceId()]++
		c, err := classifyIP(in.GetInterfaceIp())
		if err != nil {
			t.Fatalf("%s: %v", in.GetId(), err)
		}
		ipc[c]++
		speeds[in.GetSnmpSpeed()]++
		if in.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_UNSPECIFIED {
			classified++
		}
		if in.GetInterfaceDescription() == "" || in.GetSnmpId() == "" || in.GetCdate() == nil || in.GetEdate().AsTime().Before(in.GetCdate().AsTime()) {
			t.Fatalf("incomplete interface %v", in)
		}
	}
	if perDevice["1001"] != PerDevice || len(perDevice) != devices {
		t.Errorf("device 1001 has %d interfaces; %d devices", perDevice["1001"], len(perDevice))
	}
	for c, min := range map[ipClass]int{ipPrivate: n / 5, ipPublic: n / 10, ipUnset: n / 20} {
		if ipc[c] < min {
			t.Errorf("ip class %d: %d interfaces, want at least %d", c, ipc[c], min)
		}
	}
	for _, sp := range []int32{1000, 10000, 100000} {
		if speeds[sp] < n/50 {
			t.Errorf("speed %d: only %d", sp, speeds[sp])
		}
	}
	if classified < n/5 || classified > n/2 {
		t.Errorf("%d of %d pre-classified, want about a third", classified, n)
	}
	// Text search finds seeded text, and a List agrees with Match.
	got, _ := s.List(&ifacev1.InterfaceFilter{Text: "transit: cogent"})
	if len(got) == 0 {
		t.Error("no seeded interface mentions Cogent transit")
	}
}

func TestSeedPartialDeviceAndEmpty(t *testing.T) {
	s := New(nil)
	d, _ := s.Seed(50, 1)
	if d != 2 || s.Len() != 50 {
		t.Errorf("devices %d len %d", d, s.Len())
	}
	if d, err := s.Seed(0, 1); d != 0 || err != nil || s.Len() != 0 {
		t.Errorf("Seed(0): %d %v len %d", d, err, s.Len())
	}
	if _, err := s.Seed(-1, 1); err == nil {
		t.Error("Seed(-1): no error")
	}
}

// BenchmarkSeed measures seeding; run with
// go test -run '^$' -bench Seed -benchtime 3x -benchmem ./kentiktest/internal/store/
func BenchmarkSeed(b *testing.B) {
	for _, n := range []int{20_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var s *Store
			for b.Loop() {
				s = New(nil)
				if _, err := s.Seed(n, 1); err != nil {
					b.Fatal(err)
				}
			}
			// What one seeded store keeps alive, per interface.
			var before, after runtime.MemStats
			s = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			s = New(nil)
			s.Seed(n, 1)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/interface")
			runtime.KeepAlive(s)
		})
	}
}

// BenchmarkList1M measures a text search over a million interfaces (no matches to copy
// out, so it is the scan itself).
func BenchmarkList1M(b *testing.B) {
	s := New(nil)
	s.Seed(1_000_000, 1)
	f := &ifacev1.InterfaceFilter{Text: "no such text anywhere"}
	for b.Loop() {
		s.List(f)
	}
}
