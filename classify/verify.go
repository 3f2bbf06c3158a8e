package classify

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// maxListResponse lets ListInterface answers for large groups through: gRPC's default
// receive limit (4 MiB) is about 20,000 interfaces.
const maxListResponse = 1 << 30

// filterFor is the ListInterface filter that finds the interfaces of a group. Unset
// values (an unspecified enum, an empty provider) are left out of the filter, since an
// empty list means "any" there; the answer is then a superset, and each interface is
// compared field by field anyway.
func filterFor(c Classification) *ifacev1.InterfaceFilter {
	f := &ifacev1.InterfaceFilter{}
	if c.ConnectivityType != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_UNSPECIFIED {
		f.ConnectivityTypes = []ifacev1.ConnectivityType{c.ConnectivityType}
	}
	if c.NetworkBoundary != ifacev1.NetworkBoundary_NETWORK_BOUNDARY_UNSPECIFIED {
		f.NetworkBoundaries = []ifacev1.NetworkBoundary{c.NetworkBoundary}
	}
	if c.Provider != "" {
		f.Providers = []string{c.Provider}
	}
	return f
}

// verify reads the classifications back and compares them with the plan: one
// ListInterface request per group (GetInterface per id would cost a request per
// interface), then one more pass over the plan. Interfaces of failed batches are not
// checked (they are already in the failed file); every other planned interface must be
// listed with exactly its planned classification. Those that are not are written to the
// failed file and counted as Mismatched.
func (st *runState) verify(ctx context.Context) error {
	p, s, r := st.p, st.s, st.r
	got := make(map[string]uint32) // interface id -> group whose classification it carries
	index := make(map[Classification]int, len(p.Groups))
	for _, g := range p.Groups {
		index[g.Classification] = g.Index
	}
	opts := append([]grpc.CallOption{grpc.MaxCallRecvMsgSize(maxListResponse)}, r.CallOptions...)
	for _, g := range p.Groups {
		cctx, done := r.callCtx(ctx)
		resp, err := r.Client.ListInterface(cctx, &ifacev1.ListInterfaceRequest{Filters: filterFor(g.Classification)}, opts...)
		done()
		s.VerifyRequests++
		if err != nil {
			if fatal(err) {
				return fmt.Errorf("%w: verify: %w", ErrStopped, err)
			}
			return fmt.Errorf("classify: verify: listing the interfaces of group %s: %w", g.Classification, err)
		}
		for _, in := range resp.GetInterfaces() {
			c := Classification{ConnectivityType: in.GetConnectivityType(), NetworkBoundary: in.GetNetworkBoundary(), Provider: in.GetProvider()}
			if gi, ok := index[c]; ok {
				got[in.GetId()] = uint32(gi)
			}
		}
	}
	return p.Batches(ctx, func(b Batch) error {
		if st.failedKeys[batchKey{b.Group, b.Seq}] {
			return nil
		}
		var bad []string
		for _, id := range b.IDs {
			if g, ok := got[id]; ok && int(g) == b.Group {
				s.Verified++
				continue
			}
			bad = append(bad, id)
		}
		if len(bad) == 0 {
			return nil
		}
		s.Mismatched += len(bad)
		r.logger().Warn("verify: interfaces without their planned classification", "group", b.Classification.String(), "interfaces", len(bad))
		if err := st.fw.write(b.Classification, bad); err != nil {
			return fmt.Errorf("classify: writing the failed file: %w", err)
		}
		return nil
	})
}
