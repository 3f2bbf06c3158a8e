package store

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// Seeding knobs. Interfaces are spread over devices of PerDevice interfaces each; the
// first seeded device has id FirstDeviceID.
const (
	PerDevice     = 48
	FirstDeviceID = 1001
)

// seedEpoch is the earliest cdate of a seeded device; dates are derived from the seed,
// never from the clock, so equal seeds give identical stores.
var seedEpoch = time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC)

// Seed replaces the store's contents with n generated interfaces and returns how many
// devices carry them. The same seed always yields the same interfaces (ids, text,
// addresses, dates) whatever the machine or the number of CPUs: each device draws from
// its own PCG stream keyed by (seed, device index), and devices are generated in parallel.
//
// The data imitates a network operator's routers: three naming styles (IOS-XR, Junos,
// EOS), transit, PNI, IX, customer, backbone, fabric, management and unused ports, a mix
// of public (documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 2001:db8::/32), private (RFC 1918, fd00::/8) and empty addresses, speeds from 1 to
// 400 Gbit/s, and about a third of the ports already classified.
func (s *Store) Seed(n int, seed int64) (devices int, err error) {
	if n < 0 {
		return 0, fmt.Errorf("%w: cannot seed %d interfaces", ErrInvalid, n)
	}
	devices = (n + PerDevice - 1) / PerDevice
	recs := make([]record, n)

	workers := min(runtime.GOMAXPROCS(0), max(devices/64, 1))
	var wg sync.WaitGroup
	per := (devices + workers - 1) / max(workers, 1)
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, devices)
		if lo >= hi {
			break
		}
		wg.Go(func() {
			var sc scratch
			for d := lo; d < hi; d++ {
				first := d * PerDevice
				last := min(first+PerDevice, n)
				seedDevice(recs[first:last], uint64(seed), d, &sc)
			}
		})
	}
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = recs
	s.live = n
	s.nextID = FirstID + uint64(n)
	return devices, nil
}

// A vendor is a naming style for ports.
type vendor struct {
	snmpBase int
	// port names a physical port by speed and position.
	port func(b []byte, speed int32, slot, pos int) []byte
	lag  func(b []byte, n int) []byte
	lo   string
	mgmt string
}

var vendors = []vendor{
	{ // Cisco IOS-XR
		snmpBase: 1,
		port: func(b []byte, speed int32, slot, pos int) []byte {
			switch speed {
			case 400000:
				b = append(b, "FourHundredGigE0/"...)
			case 100000:
				b = append(b, "HundredGigE0/"...)
			case 25000:
				b = append(b, "TwentyFiveGigE0/"...)
			case 10000:
				b = append(b, "TenGigE0/"...)
			default:
				b = append(b, "GigabitEthernet0/"...)
			}
			b = strconv.AppendInt(b, int64(slot), 10)
			b = append(b, "/0/"...)
			return strconv.AppendInt(b, int64(pos), 10)
		},
		lag:  func(b []byte, n int) []byte { return strconv.AppendInt(append(b, "Bundle-Ether"...), int64(n), 10) },
		lo:   "Loopback0",
		mgmt: "MgmtEth0/RP0/CPU0/0",
	},
	{ // Junos
		snmpBase: 501,
		port: func(b []byte, speed int32, slot, pos int) []byte {
			switch speed {
			case 400000, 100000:
				b = append(b, "et-"...)
			case 25000, 10000:
				b = append(b, "xe-"...)
			default:
				b = append(b, "ge-"...)
			}
			b = strconv.AppendInt(b, int64(slot), 10)
			b = append(b, "/0/"...)
			return strconv.AppendInt(b, int64(pos), 10)
		},
		lag:  func(b []byte, n int) []byte { return strconv.AppendInt(append(b, "ae"...), int64(n), 10) },
		lo:   "lo0",
		mgmt: "fxp0",
	},
	{ // Arista EOS
		snmpBase: 1000001,
		port: func(b []byte, _ int32, slot, pos int) []byte {
			b = append(b, "Ethernet"...)
			b = strconv.AppendInt(b, int64(slot+1), 10)
			b = append(b, '/')
			return strconv.AppendInt(b, int64(pos+1), 10)
		},
		lag:  func(b []byte, n int) []byte { return strconv.AppendInt(append(b, "Port-Channel"...), int64(n), 10) },
		lo:   "Loopback0",
		mgmt: "Management1",
	},
}

// A role is what a port is used for; it decides the alias, the address and, when the
// port is pre-classified, its classification.
type role int

const (
	roleTransit role = iota
	rolePNI
	roleIX
	roleCustomer
	roleBackbone
	roleFabric
	roleUnused
)

type peer struct {
	name string
	asn  int32
	// asns is []int32{asn}, shared by every record of the peer: records never modify
	// their top_nexthop_asns in place, and toProto hands out copies.
	asns []int32
}

func peers(ps ...peer) []peer {
	for i := range ps {
		ps[i].asns = []int32{ps[i].asn}
	}
	return ps
}

var (
	transits  = peers(peer{name: "Cogent", asn: 174}, peer{name: "Lumen", asn: 3356}, peer{name: "Arelion", asn: 1299}, peer{name: "NTT", asn: 2914}, peer{name: "GTT", asn: 3257}, peer{name: "Zayo", asn: 6461})
	pnis      = peers(peer{name: "Google", asn: 15169}, peer{name: "Netflix", asn: 2906}, peer{name: "Meta", asn: 32934}, peer{name: "Amazon", asn: 16509}, peer{name: "Microsoft", asn: 8075}, peer{name: "Akamai", asn: 20940}, peer{name: "Cloudflare", asn: 13335}, peer{name: "Apple", asn: 714})
	ixes      = peers(peer{name: "DE-CIX Frankfurt", asn: 6695}, peer{name: "AMS-IX", asn: 1200}, peer{name: "LINX LON1", asn: 5459}, peer{name: "Equinix Ashburn", asn: 24115}, peer{name: "France-IX Paris", asn: 57734})
	customers = []string{"Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Media", "Tyrell Labs", "Hooli", "Soylent Foods", "Vandelay Imports"}
	sites     = []string{"fra1", "ams2", "lon1", "iad3", "sjc1", "sin2", "nrt1", "par1"}
	unused    = []string{"", "unused", "reserved", "spare - do not use", "decom 2023"}
)

// Netmasks by prefix, shared by every record.
const (
	mask31 = "255.255.255.254"
	mask30 = "255.255.255.252"
	mask24 = "255.255.255.0"
	mask64 = "ffff:ffff:ffff:ffff::"
	mask12 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
)

// SNMP ifType values used by the seed.
const (
	ifTypeEthernet = 6
	ifTypeLoopback = 24
	ifTypeLAG      = 161
)

// strRef is a string waiting for its device's text buffer to become a string.
type strRef struct{ off, end int32 }

// refs are the strings of one record.
type refs struct{ desc, alias, ip, snmp strRef }

// scratch is a worker's reusable buffers.
type scratch struct {
	buf []byte
	rs  []refs
}

// seedDevice fills recs (the ports of device index d, in order) from the PCG stream
// (seed, d). Every string of the device is written into one buffer that becomes one
// string, and the records take substrings of it: a million interfaces cost some twenty
// thousand string allocations rather than millions.
func seedDevice(recs []record, seed uint64, d int, sc *scratch) {
	rng := rand.New(rand.NewPCG(seed, uint64(d)))
	v := vendors[rng.IntN(len(vendors))]
	site := sites[rng.IntN(len(sites))]
	deviceID := strconv.Itoa(FirstDeviceID + d)
	devCreated := seedEpoch.Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
	uplink := []int32{10000, 100000, 100000, 400000}[rng.IntN(4)]

	buf := sc.buf[:0]
	if cap(sc.rs) < len(recs) {
		sc.rs = make([]refs, len(recs))
	}
	rs := sc.rs[:len(recs)]
	mark := func() int32 { return int32(len(buf)) }

	for i := range recs {
		r := &recs[i]
		r.id = FirstID + uint64(d*PerDevice+i)
		r.deviceID = deviceID
		r.snmpType = ifTypeEthernet

		// Speed and role.
		ro := pickRole(rng)
		switch ro {
		case roleBackbone:
			r.speed = uplink
		case roleFabric:
			r.speed = []int32{25000, 100000, 100000}[rng.IntN(3)]
		case roleCustomer:
			r.speed = []int32{1000, 10000, 10000, 100000}[rng.IntN(4)]
		case roleUnused:
			r.speed = []int32{1000, 10000, 100000}[rng.IntN(3)]
		default:
			r.speed = []int32{10000, 100000, 100000, 400000}[rng.IntN(4)]
		}

		// Name (interface_description) and SNMP index.
		var ref refs
		ref.desc.off = mark()
		switch {
		case i == 0:
			buf = append(buf, v.lo...)
			r.snmpType, r.speed, ro = ifTypeLoopback, 0, roleBackbone
		case i == 1:
			buf = append(buf, v.mgmt...)
			r.speed, ro = 1000, -1
		case i >= len(recs)-4 && len(recs) == PerDevice:
			buf = v.lag(buf, i-(len(recs)-4)+1)
			r.snmpType = ifTypeLAG
			r.speed *= 2
		default:
			buf = v.port(buf, r.speed, (i-2)/16, (i-2)%16)
		}
		ref.desc.end = mark()
		ref.snmp.off = mark()
		buf = strconv.AppendInt(buf, int64(v.snmpBase+i), 10)
		ref.snmp.end = mark()

		// Alias, address, classification.
		ref.alias.off = mark()
		var cls classification
		switch ro {
		case -1:
			buf = append(buf, "OOB management"...)
			ref.ip = appendIP(&buf, privateV4(rng, 192, 168), mark)
			r.netmask = mask24
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_MGT, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL, ""}
		case roleTransit:
			p := transits[rng.IntN(len(transits))]
			buf = append(buf, "TRANSIT: "...)
			buf = append(buf, p.name...)
			buf = append(buf, " AS"...)
			buf = strconv.AppendInt(buf, int64(p.asn), 10)
			buf = append(buf, " [CID "...)
			buf = strconv.AppendInt(buf, 100000+rng.Int64N(900000), 10)
			buf = append(buf, ']')
			ref.ip, r.netmask = publicIP(rng, &buf, mark)
			r.asns = p.asns
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, p.name}
		case rolePNI:
			p := pnis[rng.IntN(len(pnis))]
			buf = append(buf, "PNI: "...)
			buf = append(buf, p.name...)
			buf = append(buf, " AS"...)
			buf = strconv.AppendInt(buf, int64(p.asn), 10)
			ref.ip, r.netmask = publicIP(rng, &buf, mark)
			r.asns = p.asns
			ct := ifacev1.ConnectivityType_CONNECTIVITY_TYPE_FREE_PNI
			if rng.IntN(3) == 0 {
				ct = ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI
			}
			cls = classification{ct, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, p.name}
		case roleIX:
			p := ixes[rng.IntN(len(ixes))]
			buf = append(buf, "IX: "...)
			buf = append(buf, p.name...)
			buf = append(buf, " peering LAN"...)
			ref.ip = appendIP(&buf, netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + rng.IntN(254))}), mark)
			r.netmask = mask24
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, p.name}
		case roleCustomer:
			c := customers[rng.IntN(len(customers))]
			buf = append(buf, "CUST: "...)
			buf = append(buf, c...)
			buf = append(buf, " [ORD-"...)
			buf = strconv.AppendInt(buf, 10000+rng.Int64N(90000), 10)
			buf = append(buf, ']')
			if rng.IntN(2) == 0 {
				ref.ip, r.netmask = publicIP(rng, &buf, mark)
			} else {
				ref.ip = appendIP(&buf, privateV4(rng, 172, byte(16+rng.IntN(16))), mark)
				r.netmask = mask30
			}
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_CUSTOMER, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, c}
		case roleBackbone:
			if r.snmpType == ifTypeLoopback {
				buf = append(buf, "router-id"...)
				ref.ip = appendIP(&buf, privateV4(rng, 10, 255), mark)
				r.netmask = "255.255.255.255"
			} else {
				buf = append(buf, "CORE: to cr"...)
				buf = strconv.AppendInt(buf, int64(1+rng.IntN(4)), 10)
				buf = append(buf, '.')
				buf = append(buf, sites[rng.IntN(len(sites))]...)
				if rng.IntN(5) == 0 {
					ref.ip = appendIP(&buf, privateV6(rng), mark)
					r.netmask = mask12
				} else {
					ref.ip = appendIP(&buf, privateV4(rng, 10, byte(rng.IntN(255))), mark)
					r.netmask = mask31
				}
			}
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_BACKBONE, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL, ""}
		case roleFabric:
			buf = append(buf, "DC: leaf"...)
			buf = strconv.AppendInt(buf, int64(1+rng.IntN(64)), 10)
			buf = append(buf, '.')
			buf = append(buf, site...)
			buf = append(buf, " Eth"...)
			buf = strconv.AppendInt(buf, int64(1+rng.IntN(48)), 10)
			ref.ip = appendIP(&buf, privateV4(rng, 10, byte(128+rng.IntN(128))), mark)
			r.netmask = mask31
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_DATACENTER_FABRIC, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL, ""}
		case roleUnused:
			buf = append(buf, unused[rng.IntN(len(unused))]...)
			cls = classification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_AVAILABLE, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_NONE, ""}
		}
		// The alias ends where its address starts, or where the buffer ends.
		if ref.ip.end > 0 {
			ref.alias.end = ref.ip.off
		} else {
			ref.alias.end = mark()
		}

		// About a third of the ports are classified already; the rest wait for a
		// ManualClassify, some with the boundary left to Kentik's auto-detection.
		if rng.IntN(3) == 0 {
			r.ct, r.nb, r.provider = cls.ct, cls.nb, cls.provider
		} else if rng.IntN(2) == 0 {
			r.nb = ifacev1.NetworkBoundary_NETWORK_BOUNDARY_AUTO
		}

		cdate := devCreated.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		r.cdate = cdate.UnixNano()
		r.edate = cdate.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).UnixNano()
		rs[i] = ref
	}

	sc.buf = buf // keep the grown buffer for the next device
	text := string(buf)
	sub := func(s strRef) string { return text[s.off:s.end] }
	for i := range recs {
		r, ref := &recs[i], rs[i]
		r.desc, r.alias, r.snmpID = sub(ref.desc), sub(ref.alias), sub(ref.snmp)
		r.ip = sub(ref.ip)
		cls, _ := classifyIP(r.ip)
		r.ipClass = cls
	}
}

type classification struct {
	ct       ifacev1.ConnectivityType
	nb       ifacev1.NetworkBoundary
	provider string
}

func pickRole(rng *rand.Rand) role {
	// Weights out of 100: a core router with some edge.
	switch x := rng.IntN(100); {
	case x < 12:
		return roleTransit
	case x < 22:
		return rolePNI
	case x < 30:
		return roleIX
	case x < 50:
		return roleCustomer
	case x < 68:
		return roleBackbone
	case x < 80:
		return roleFabric
	default:
		return roleUnused
	}
}

// appendIP writes a into buf, right after the alias, and returns where it is.
func appendIP(buf *[]byte, a netip.Addr, mark func() int32) strRef {
	off := mark()
	*buf = a.AppendTo(*buf)
	return strRef{off, mark()}
}

// publicIP draws a point-to-point address from the documentation ranges: IPv4 /31 most
// of the time, IPv6 /127 otherwise.
func publicIP(rng *rand.Rand, buf *[]byte, mark func() int32) (strRef, string) {
	if rng.IntN(4) == 0 {
		var a [16]byte
		copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8})
		a[4], a[5] = byte(rng.IntN(256)), byte(rng.IntN(256))
		a[15] = byte(rng.IntN(256))
		return appendIP(buf, netip.AddrFrom16(a), mark), mask12
	}
	nets := [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}
	n := nets[rng.IntN(len(nets))]
	return appendIP(buf, netip.AddrFrom4([4]byte{n[0], n[1], n[2], byte(rng.IntN(256))}), mark), mask31
}

func privateV4(rng *rand.Rand, a, b byte) netip.Addr {
	return netip.AddrFrom4([4]byte{a, b, byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
}

func privateV6(rng *rand.Rand) netip.Addr {
	var a [16]byte
	a[0] = 0xfd
	for i := 1; i < 6; i++ {
		a[i] = byte(rng.IntN(256))
	}
	a[15] = byte(1 + rng.IntN(254))
	return netip.AddrFrom16(a)
}
