// Package store is the in-memory table of interfaces behind kentiktest: the rules of
// Kentik's InterfaceService (ids, timestamps, filters, classification) applied to a
// concurrency-safe store that holds a million interfaces in a few hundred megabytes.
//
// Records are kept in one slice ordered by numeric id. New ids are always larger than any
// id ever handed out, so creation appends and lookups are binary searches; deletion leaves
// a tombstone that is compacted away once tombstones outnumber live records.
package store

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// Errors the store returns, wrapped with details. Callers branch on them with errors.Is.
var (
	// ErrNotFound reports an interface id that is not in the store.
	ErrNotFound = errors.New("interface not found")
	// ErrInvalid reports a request the store refuses (missing or malformed fields).
	ErrInvalid = errors.New("invalid argument")
)

// FirstID is the id of the first interface a fresh store hands out (seeded or created).
// Interface ids have seven digits from there on, device ids of seeded devices four or
// five, so a test that mixes them up fails instead of passing by accident.
const FirstID = 1_000_001

// record is the compact form of one interface. The fields the filters read are kept
// unpacked; whatever else a client sent (maps, VRF, initial_* values...) stays in extra,
// which is nil for seeded interfaces.
type record struct {
	id       uint64
	deviceID string
	snmpID   string
	alias    string
	desc     string
	ip       string
	netmask  string
	provider string
	cdate    int64 // unix nanoseconds
	edate    int64
	speed    int32
	snmpType int32
	ct       ifacev1.ConnectivityType
	nb       ifacev1.NetworkBoundary
	ipClass  ipClass
	deleted  bool
	asns     []int32
	extra    *ifacev1.Interface
}

// Store is an in-memory, concurrency-safe set of interfaces. The zero value is not
// usable; call New.
type Store struct {
	now func() time.Time

	mu     sync.RWMutex
	recs   []record // ordered by id, tombstones included
	live   int
	nextID uint64
}

// New returns an empty store that stamps cdate and edate with now (time.Now when nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, nextID: FirstID}
}

// Len returns the number of interfaces in the store.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

// parseID turns a canonical decimal id into its number.
func parseID(id string) (uint64, error) {
	if id == "" {
		return 0, fmt.Errorf("%w: interface id is empty", ErrInvalid)
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != id {
		return 0, fmt.Errorf("%w: interface id %q is not a positive decimal number", ErrInvalid, id)
	}
	return n, nil
}

// find returns the index of the live record with id n, or -1. Callers hold mu.
func (s *Store) find(n uint64) int {
	i, ok := slices.BinarySearchFunc(s.recs, n, func(r record, n uint64) int {
		switch {
		case r.id < n:
			return -1
		case r.id > n:
			return 1
		}
		return 0
	})
	if !ok || s.recs[i].deleted {
		return -1
	}
	return i
}

// Get returns a copy of the interface with the given id.
func (s *Store) Get(id string) (*ifacev1.Interface, error) {
	n, err := parseID(id)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.find(n)
	if i < 0 {
		return nil, fmt.Errorf("%w: id %s", ErrNotFound, id)
	}
	return s.recs[i].toProto(), nil
}

// All returns a copy of every interface, ordered by id.
func (s *Store) All() []*ifacev1.Interface {
	out, _ := s.List(nil)
	return out
}

// IDs returns the ids of every interface, ordered by id.
func (s *Store) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, s.live)
	for i := range s.recs {
		if !s.recs[i].deleted {
			out = append(out, strconv.FormatUint(s.recs[i].id, 10))
		}
	}
	return out
}

// List returns copies of the interfaces matching f, ordered by id. A nil filter matches
// everything. See Compile for the matching rules.
func (s *Store) List(f *ifacev1.InterfaceFilter) ([]*ifacev1.Interface, error) {
	m, err := Compile(f)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*ifacev1.Interface
	for i := range s.recs {
		r := &s.recs[i]
		if !r.deleted && m.match(r) {
			out = append(out, r.toProto())
		}
	}
	return out, nil
}

// Create stores a new interface and returns it. The store assigns the id (a client's id
// is ignored: Kentik assigns ids, and the response carries the new one) and sets cdate and
// edate to now.
func (s *Store) Create(in *ifacev1.Interface) (*ifacev1.Interface, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: interface is required", ErrInvalid)
	}
	r, err := fromProto(in)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	r.cdate, r.edate = now, now

	s.mu.Lock()
	defer s.mu.Unlock()
	r.id = s.nextID
	s.nextID++
	s.recs = append(s.recs, r)
	s.live++
	return s.recs[len(s.recs)-1].toProto(), nil
}

// Update replaces every field of the interface with in.Id except its id and cdate, sets
// edate to now, and returns the stored interface.
func (s *Store) Update(in *ifacev1.Interface) (*ifacev1.Interface, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: interface is required", ErrInvalid)
	}
	n, err := parseID(in.GetId())
	if err != nil {
		return nil, err
	}
	r, err := fromProto(in)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixNano()

	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(n)
	if i < 0 {
		return nil, fmt.Errorf("%w: id %s", ErrNotFound, in.GetId())
	}
	r.id = n
	r.cdate = s.recs[i].cdate
	r.edate = now
	s.recs[i] = r
	return s.recs[i].toProto(), nil
}

// Delete removes the interface with the given id.
func (s *Store) Delete(id string) error {
	n, err := parseID(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(n)
	if i < 0 {
		return fmt.Errorf("%w: id %s", ErrNotFound, id)
	}
	s.recs[i] = record{id: n, deleted: true}
	s.live--
	if dead := len(s.recs) - s.live; dead > 1024 && dead > s.live {
		s.recs = slices.DeleteFunc(s.recs, func(r record) bool { return r.deleted })
	}
	return nil
}

// Classification is what ManualClassify sets on every interface it names.
type Classification struct {
	ConnectivityType ifacev1.ConnectivityType
	NetworkBoundary  ifacev1.NetworkBoundary
	Provider         string
}

// ClassifyResult is what Classify did.
type ClassifyResult struct {
	// DeviceIDs are the distinct devices of the classified interfaces, sorted by number.
	DeviceIDs []string
	// Classified counts the interfaces changed (an id named twice counts once).
	Classified int
	// UnknownIDs are well-formed ids that name no interface; they were skipped.
	UnknownIDs []string
}

// Classify sets c on every interface in ids and bumps their edate, all under one lock so
// readers see the whole request applied or none of it. Ids that are well formed but
// unknown are skipped and reported in the result (a batch job must not fail wholesale
// because one interface vanished meanwhile). An empty list, a malformed id or an
// undefined enum value refuses the whole request with ErrInvalid.
func (s *Store) Classify(ids []string, c Classification) (ClassifyResult, error) {
	if len(ids) == 0 {
		return ClassifyResult{}, fmt.Errorf("%w: interface_ids is empty", ErrInvalid)
	}
	if err := checkEnums(c.ConnectivityType, c.NetworkBoundary); err != nil {
		return ClassifyResult{}, err
	}
	nums := make([]uint64, len(ids))
	for i, id := range ids {
		n, err := parseID(id)
		if err != nil {
			return ClassifyResult{}, fmt.Errorf("interface_ids[%d]: %w", i, err)
		}
		nums[i] = n
	}
	now := s.now().UnixNano()

	s.mu.Lock()
	defer s.mu.Unlock()
	var res ClassifyResult
	devices := map[string]struct{}{}
	seen := make(map[uint64]struct{}, len(nums))
	for i, n := range nums {
		if _, dup := seen[n]; dup {
			continue
		}
		seen[n] = struct{}{}
		j := s.find(n)
		if j < 0 {
			res.UnknownIDs = append(res.UnknownIDs, ids[i])
			continue
		}
		r := &s.recs[j]
		r.ct, r.nb, r.provider = c.ConnectivityType, c.NetworkBoundary, c.Provider
		r.edate = now
		res.Classified++
		devices[r.deviceID] = struct{}{}
	}
	res.DeviceIDs = make([]string, 0, len(devices))
	for d := range devices {
		res.DeviceIDs = append(res.DeviceIDs, d)
	}
	slices.SortFunc(res.DeviceIDs, compareNumeric)
	return res, nil
}

// compareNumeric orders decimal strings by value (shorter first), then lexically, so
// non-numeric device ids still sort deterministically.
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// checkEnums refuses enum numbers the schema does not define (proto3 enums are open, so
// the wire lets them through).
func checkEnums(ct ifacev1.ConnectivityType, nb ifacev1.NetworkBoundary) error {
	if _, ok := ifacev1.ConnectivityType_name[int32(ct)]; !ok {
		return fmt.Errorf("%w: connectivity_type %d is not defined", ErrInvalid, ct)
	}
	if _, ok := ifacev1.NetworkBoundary_name[int32(nb)]; !ok {
		return fmt.Errorf("%w: network_boundary %d is not defined", ErrInvalid, nb)
	}
	return nil
}

// fromProto validates in and converts it to a record without id or dates.
func fromProto(in *ifacev1.Interface) (record, error) {
	if strings.TrimSpace(in.GetDeviceId()) == "" {
		return record{}, fmt.Errorf("%w: interface.device_id is required", ErrInvalid)
	}
	if err := checkEnums(in.GetConnectivityType(), in.GetNetworkBoundary()); err != nil {
		return record{}, err
	}
	cls, err := classifyIP(in.GetInterfaceIp())
	if err != nil {
		return record{}, fmt.Errorf("%w: interface.interface_ip: %w", ErrInvalid, err)
	}
	r := record{
		deviceID: in.GetDeviceId(),
		snmpID:   in.GetSnmpId(),
		alias:    in.GetSnmpAlias(),
		desc:     in.GetInterfaceDescription(),
		ip:       in.GetInterfaceIp(),
		netmask:  in.GetInterfaceIpNetmask(),
		provider: in.GetProvider(),
		speed:    in.GetSnmpSpeed(),
		snmpType: in.GetSnmpType(),
		ct:       in.GetConnectivityType(),
		nb:       in.GetNetworkBoundary(),
		ipClass:  cls,
		asns:     slices.Clone(in.GetTopNexthopAsns()),
	}
	// Keep every other field the client set, byte for byte, in extra.
	extra := proto.CloneOf(in)
	extra.Id, extra.DeviceId, extra.SnmpId, extra.SnmpAlias = "", "", "", ""
	extra.InterfaceDescription, extra.InterfaceIp, extra.InterfaceIpNetmask, extra.Provider = "", "", "", ""
	extra.SnmpSpeed, extra.SnmpType = 0, 0
	extra.ConnectivityType, extra.NetworkBoundary = 0, 0
	extra.TopNexthopAsns, extra.Cdate, extra.Edate = nil, nil, nil
	if proto.Size(extra) > 0 {
		r.extra = extra
	}
	return r, nil
}

// toProto returns a fresh message the caller may keep and modify.
func (r *record) toProto() *ifacev1.Interface {
	var out *ifacev1.Interface
	if r.extra != nil {
		out = proto.CloneOf(r.extra)
	} else {
		out = &ifacev1.Interface{}
	}
	out.Id = strconv.FormatUint(r.id, 10)
	out.DeviceId = r.deviceID
	out.SnmpId = r.snmpID
	out.SnmpSpeed = r.speed
	out.SnmpType = r.snmpType
	out.SnmpAlias = r.alias
	out.InterfaceIp = r.ip
	out.InterfaceDescription = r.desc
	out.InterfaceIpNetmask = r.netmask
	out.ConnectivityType = r.ct
	out.NetworkBoundary = r.nb
	out.Provider = r.provider
	out.TopNexthopAsns = slices.Clone(r.asns)
	out.Cdate = timestamppb.New(time.Unix(0, r.cdate).UTC())
	out.Edate = timestamppb.New(time.Unix(0, r.edate).UTC())
	return out
}
