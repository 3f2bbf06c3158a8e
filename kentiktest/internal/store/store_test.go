package store

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// fixedClock returns a clock that advances by one second per call.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func TestCreateAssignsIDAndDates(t *testing.T) {
	s := New(fixedClock())
	in := &ifacev1.Interface{
		Id: "999", DeviceId: "42", SnmpId: "7", SnmpSpeed: 10000, InterfaceDescription: "xe-0/0/1",
		InterfaceIp: "192.0.2.1", InterfaceKvs: map[string]string{"k": "v"}, InterfaceStatus: "up",
		TopNexthopAsns: []int32{174},
	}
	got, err := s.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() != strconv.Itoa(FirstID) {
		t.Errorf("id = %q, want %d (client id ignored)", got.GetId(), FirstID)
	}
	if !got.GetCdate().AsTime().Equal(got.GetEdate().AsTime()) || got.GetCdate() == nil {
		t.Errorf("cdate %v edate %v, want equal and set", got.GetCdate(), got.GetEdate())
	}
	if got.GetInterfaceKvs()["k"] != "v" || got.GetInterfaceStatus() != "up" || got.GetTopNexthopAsns()[0] != 174 {
		t.Errorf("extra fields lost: %v", got)
	}
	// The returned message is a copy.
	got.InterfaceKvs["k"] = "changed"
	got.TopNexthopAsns[0] = 1
	again, _ := s.Get(got.GetId())
	if again.GetInterfaceKvs()["k"] != "v" || again.GetTopNexthopAsns()[0] != 174 {
		t.Error("modifying a returned message changed the store")
	}
	second, _ := s.Create(in)
	if second.GetId() != strconv.Itoa(FirstID+1) {
		t.Errorf("second id = %q", second.GetId())
	}
}

func TestCreateValidation(t *testing.T) {
	s := New(nil)
	for name, in := range map[string]*ifacev1.Interface{
		"nil":          nil,
		"no device":    {SnmpId: "1"},
		"blank device": {DeviceId: "  "},
		"bad ip":       {DeviceId: "1", InterfaceIp: "10.0.0.300"},
		"bad type":     {DeviceId: "1", ConnectivityType: 99},
		"bad boundary": {DeviceId: "1", NetworkBoundary: 42},
	} {
		if _, err := s.Create(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after refused creates", s.Len())
	}
}

func TestUpdateReplacesAllButIDAndCdate(t *testing.T) {
	s := New(fixedClock())
	orig, _ := s.Create(&ifacev1.Interface{DeviceId: "1", SnmpAlias: "old", Provider: "p", InterfaceKvs: map[string]string{"a": "b"}})
	upd, err := s.Update(&ifacev1.Interface{Id: orig.GetId(), DeviceId: "2", SnmpSpeed: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetSnmpAlias() != "" || upd.GetProvider() != "" || len(upd.GetInterfaceKvs()) != 0 {
		t.Errorf("update kept old fields: %v", upd)
	}
	if upd.GetDeviceId() != "2" || upd.GetSnmpSpeed() != 100000 {
		t.Errorf("update lost new fields: %v", upd)
	}
	if !proto.Equal(upd.GetCdate(), orig.GetCdate()) {
		t.Errorf("cdate changed: %v -> %v", orig.GetCdate(), upd.GetCdate())
	}
	if !upd.GetEdate().AsTime().After(orig.GetEdate().AsTime()) {
		t.Errorf("edate not bumped: %v -> %v", orig.GetEdate(), upd.GetEdate())
	}

	for name, c := range map[string]struct {
		in   *ifacev1.Interface
		want error
	}{
		"nil":       {nil, ErrInvalid},
		"no id":     {&ifacev1.Interface{DeviceId: "1"}, ErrInvalid},
		"bad id":    {&ifacev1.Interface{Id: "x1", DeviceId: "1"}, ErrInvalid},
		"padded id": {&ifacev1.Interface{Id: "01000001", DeviceId: "1"}, ErrInvalid},
		"unknown":   {&ifacev1.Interface{Id: "5", DeviceId: "1"}, ErrNotFound},
		"no device": {&ifacev1.Interface{Id: orig.GetId()}, ErrInvalid},
	} {
		if _, err := s.Update(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

func TestDeleteAndCompaction(t *testing.T) {
	s := New(nil)
	if _, err := s.Seed(3000, 1); err != nil {
		t.Fatal(err)
	}
	ids := s.IDs()
	// Delete most, forcing at least one compaction, and check the rest is intact.
	for i, id := range ids {
		if i%3 != 0 {
			if err := s.Delete(id); err != nil {
				t.Fatalf("Delete(%s): %v", id, err)
			}
		}
	}
	if err := s.Delete(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty id: %v, want ErrInvalid", err)
	}
	if s.Len() != 1000 || len(s.recs) >= 3000 {
		t.Errorf("Len %d, slice %d: want 1000 live and a compacted slice", s.Len(), len(s.recs))
	}
	for i := 0; i < len(ids); i += 3 {
		if _, err := s.Get(ids[i]); err != nil {
			t.Fatalf("Get(%s) after compaction: %v", ids[i], err)
		}
	}
	// New ids stay above every id ever handed out.
	in, _ := s.Create(&ifacev1.Interface{DeviceId: "1"})
	if in.GetId() != strconv.Itoa(FirstID+3000) {
		t.Errorf("id after deletes = %s", in.GetId())
	}
}

func TestGet(t *testing.T) {
	s := New(nil)
	s.Seed(10, 1)
	if _, err := s.Get(strconv.Itoa(FirstID + 3)); err != nil {
		t.Error(err)
	}
	for id, want := range map[string]error{"": ErrInvalid, "abc": ErrInvalid, "-1": ErrInvalid, "0": ErrInvalid, "+1000001": ErrInvalid, "1": ErrNotFound, "1000011": ErrNotFound} {
		if _, err := s.Get(id); !errors.Is(err, want) {
			t.Errorf("Get(%q) = %v, want %v", id, err, want)
		}
	}
}

func TestClassify(t *testing.T) {
	s := New(fixedClock())
	s.Seed(200, 3) // devices 1001..1005
	ids := s.IDs()
	before, _ := s.Get(ids[0])
	c := Classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, "Cogent"}
	// ids from devices 1005 and 1001, one unknown, one named twice.
	req := []string{ids[199], ids[0], "99999999", ids[0], ids[5]}
	res, err := s.Classify(req, c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.DeviceIDs, []string{"1001", "1005"}) {
		t.Errorf("DeviceIDs = %v", res.DeviceIDs)
	}
	if res.Classified != 3 || !slices.Equal(res.UnknownIDs, []string{"99999999"}) {
		t.Errorf("Classified %d Unknown %v", res.Classified, res.UnknownIDs)
	}
	after, _ := s.Get(ids[0])
	if after.GetConnectivityType() != c.ConnectivityType || after.GetNetworkBoundary() != c.NetworkBoundary || after.GetProvider() != "Cogent" {
		t.Errorf("not classified: %v", after)
	}
	if !after.GetEdate().AsTime().After(before.GetEdate().AsTime()) || !proto.Equal(after.GetCdate(), before.GetCdate()) {
		t.Errorf("dates: before %v/%v after %v/%v", before.GetCdate(), before.GetEdate(), after.GetCdate(), after.GetEdate())
	}

	// Whole-request refusals change nothing.
	snapshot := s.All()
	for name, ids := range map[string][]string{"empty": nil, "malformed": {ids[1], "abc"}, "blank": {""}} {
		if _, err := s.Classify(ids, c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Classify([]string{ids[1]}, Classification{ConnectivityType: 77}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad enum: %v", err)
	}
	if !equalAll(snapshot, s.All()) {
		t.Error("a refused request changed the store")
	}

	// All unknown: success, no devices.
	res, err = s.Classify([]string{"5", "6"}, c)
	if err != nil || len(res.DeviceIDs) != 0 || len(res.UnknownIDs) != 2 {
		t.Errorf("all unknown: %+v %v", res, err)
	}
}

func equalAll(a, b []*ifacev1.Interface) bool {
	return slices.EqualFunc(a, b, func(x, y *ifacev1.Interface) bool { return proto.Equal(x, y) })
}

func TestCompareNumeric(t *testing.T) {
	got := []string{"1001", "99", "1000", "abc", "2"}
	slices.SortFunc(got, compareNumeric)
	if want := []string{"2", "99", "abc", "1000", "1001"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestConcurrentUse runs readers and writers together; -race checks the locking, and
// the final count checks nothing was lost.
func TestConcurrentUse(t *testing.T) {
	s := New(nil)
	s.Seed(2000, 9)
	ids := s.IDs()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				switch (g + i) % 5 {
				case 0:
					if _, err := s.Create(&ifacev1.Interface{DeviceId: "7"}); err != nil {
						t.Error(err)
					}
				case 1:
					s.List(&ifacev1.InterfaceFilter{Text: "transit"})
				case 2:
					s.Classify([]string{ids[(g*50+i)%len(ids)]}, Classification{Provider: fmt.Sprint(g)})
				case 3:
					s.Get(ids[i])
				case 4:
					id := ids[1000+g*50+i]
					if err := s.Delete(id); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	// 8 goroutines × 50 calls: 80 creates and 80 deletes.
	if s.Len() != 2000 {
		t.Errorf("Len = %d, want 2000", s.Len())
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "1000001", "0", "01", "-1", "+1", "", "18446744073709551616", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseID(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		if strconv.FormatUint(n, 10) != s || n == 0 {
			t.Fatalf("parseID(%q) = %d, not canonical", s, n)
		}
	})
}
