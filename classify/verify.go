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
// interface), then a pass over the plan. Interfaces of failed batches are not checked
// (they are already in the failed file); every other planned interface must be listed
// with exactly its planned classification. When some are not, one more ListInterface,
// unfiltered, tells those the server has (with another classification: Mismatched,
// written to the failed file, which can be run again) from those it does not have
// (Missing, written to the missing file: sending them again cannot help), in a second
// pass over the plan.
func (st *runState) verify(ctx context.Context) error {
	p, s, r := st.p, st.s, st.r
	got := make(map[string]uint32) // interface id -> group whose classification it carries
	index := make(map[Classification]int, len(p.Groups))
	for _, g := range p.Groups {
		index[g.Classification] = g.Index
	}
	opts := append([]grpc.CallOption{grpc.MaxCallRecvMsgSize(maxListResponse)}, r.CallOptions...)
	list := func(f *ifacev1.InterfaceFilter, what string) ([]*ifacev1.Interface, error) {
		cctx, done := r.callCtx(ctx)
		resp, err := r.Client.ListInterface(cctx, &ifacev1.ListInterfaceRequest{Filters: f}, opts...)
		done()
		s.VerifyRequests++
		if err != nil {
			if fatal(err) {
				return nil, fmt.Errorf("%w: verify: %w", ErrStopped, err)
			}
			return nil, fmt.Errorf("classify: verify: listing %s: %w", what, err)
		}
		return resp.GetInterfaces(), nil
	}
	for _, g := range p.Groups {
		ins, err := list(filterFor(g.Classification), "the interfaces of group "+g.Classification.String())
		if err != nil {
			return err
		}
		for _, in := range ins {
			c := Classification{ConnectivityType: in.GetConnectivityType(), NetworkBoundary: in.GetNetworkBoundary(), Provider: in.GetProvider()}
			if gi, ok := index[c]; ok {
				got[in.GetId()] = uint32(gi)
			}
		}
	}
	verified := func(b Batch, id string) bool {
		g, ok := got[id]
		return ok && int(g) == b.Group
	}
	// First pass: count what is confirmed, and whether anything is not.
	unconfirmed := 0
	err := p.Batches(ctx, func(b Batch) error {
		if st.failedKeys[batchKey{b.Group, b.Seq}] {
			return nil
		}
		for _, id := range b.IDs {
			if verified(b, id) {
				s.Verified++
			} else {
				unconfirmed++
			}
		}
		return nil
	})
	if err != nil || unconfirmed == 0 {
		return err
	}
	// Which of the others exist at all?
	ins, err := list(&ifacev1.InterfaceFilter{}, "every interface (to tell missing interfaces from misclassified ones)")
	if err != nil {
		return err
	}
	exists := make(map[string]struct{}, len(ins))
	for _, in := range ins {
		exists[in.GetId()] = struct{}{}
	}
	ins = nil
	return p.Batches(ctx, func(b Batch) error {
		if st.failedKeys[batchKey{b.Group, b.Seq}] {
			return nil
		}
		var mismatched, missing []string
		for _, id := range b.IDs {
			switch _, ok := exists[id]; {
			case verified(b, id):
			case ok:
				mismatched = append(mismatched, id)
			default:
				missing = append(missing, id)
			}
		}
		if len(mismatched) > 0 {
			s.Mismatched += len(mismatched)
			r.logger().Warn("verify: interfaces without their planned classification", "group", b.Classification.String(), "interfaces", len(mismatched))
			if err := st.fw.write(b.Classification, mismatched); err != nil {
				return fmt.Errorf("classify: writing the failed file: %w", err)
			}
		}
		if len(missing) > 0 {
			s.Missing += len(missing)
			r.logger().Warn("verify: interfaces that do not exist", "group", b.Classification.String(), "interfaces", len(missing))
			if err := st.mw.write(b.Classification, missing); err != nil {
				return fmt.Errorf("classify: writing the missing file: %w", err)
			}
		}
		return nil
	})
}
