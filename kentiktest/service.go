package kentiktest

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest/internal/store"
)

// interfaceService implements InterfaceService over the store. Authentication, limits
// and faults happen in interceptors before it is called.
type interfaceService struct {
	ifacev1.UnimplementedInterfaceServiceServer
	s *Server
}

var _ ifacev1.InterfaceServiceServer = (*interfaceService)(nil)

// builtinHandlers returns the fake's own implementations, by full method.
func (s *Server) builtinHandlers() map[string]Handler {
	is := &interfaceService{s: s}
	hs := (&mkpService{s: s}).handlers()
	for full, h := range map[string]Handler{
		ifacev1.InterfaceService_ListInterface_FullMethodName:   typed(is.ListInterface),
		ifacev1.InterfaceService_GetInterface_FullMethodName:    typed(is.GetInterface),
		ifacev1.InterfaceService_CreateInterface_FullMethodName: typed(is.CreateInterface),
		ifacev1.InterfaceService_UpdateInterface_FullMethodName: typed(is.UpdateInterface),
		ifacev1.InterfaceService_DeleteInterface_FullMethodName: typed(is.DeleteInterface),
		ifacev1.InterfaceService_ManualClassify_FullMethodName:  typed(is.ManualClassify),
	} {
		hs[full] = h
	}
	return hs
}

// storeError turns a store error into a status.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// ListInterface returns every interface matching the filters, ordered by id, with
// total_count the number of matches.
func (is *interfaceService) ListInterface(_ context.Context, req *ifacev1.ListInterfaceRequest) (*ifacev1.ListInterfaceResponse, error) {
	out, err := is.s.store.List(req.GetFilters())
	if err != nil {
		return nil, storeError(err)
	}
	return &ifacev1.ListInterfaceResponse{Interfaces: out, TotalCount: int32(min(len(out), 1<<31-1))}, nil
}

// GetInterface returns one interface: INVALID_ARGUMENT for an empty or non-numeric id,
// NOT_FOUND for an unknown one.
func (is *interfaceService) GetInterface(_ context.Context, req *ifacev1.GetInterfaceRequest) (*ifacev1.GetInterfaceResponse, error) {
	in, err := is.s.store.Get(req.GetId())
	if err != nil {
		return nil, storeError(err)
	}
	return &ifacev1.GetInterfaceResponse{Interface: in}, nil
}

// CreateInterface stores a new interface. The fake assigns the id (a client's id is
// ignored) and sets cdate and edate; it refuses a missing interface, an empty device_id,
// an interface_ip that is not an address and undefined enum values.
func (is *interfaceService) CreateInterface(_ context.Context, req *ifacev1.CreateInterfaceRequest) (*ifacev1.CreateInterfaceResponse, error) {
	in, err := is.s.store.Create(req.GetInterface())
	if err != nil {
		return nil, storeError(err)
	}
	return &ifacev1.CreateInterfaceResponse{Interface: in}, nil
}

// UpdateInterface replaces every field except id and cdate, and sets edate.
func (is *interfaceService) UpdateInterface(_ context.Context, req *ifacev1.UpdateInterfaceRequest) (*ifacev1.UpdateInterfaceResponse, error) {
	in, err := is.s.store.Update(req.GetInterface())
	if err != nil {
		return nil, storeError(err)
	}
	return &ifacev1.UpdateInterfaceResponse{Interface: in}, nil
}

// DeleteInterface removes an interface (NOT_FOUND for an unknown id).
func (is *interfaceService) DeleteInterface(_ context.Context, req *ifacev1.DeleteInterfaceRequest) (*ifacev1.DeleteInterfaceResponse, error) {
	if err := is.s.store.Delete(req.GetId()); err != nil {
		return nil, storeError(err)
	}
	return &ifacev1.DeleteInterfaceResponse{}, nil
}

// ManualClassify sets the classification on every known id atomically and returns the
// sorted distinct devices affected. Unknown (well-formed) ids are skipped, logged and
// counted in Stats.UnknownIDsClassified; an empty list, a malformed id or an undefined
// enum value fails the whole request with INVALID_ARGUMENT.
func (is *interfaceService) ManualClassify(ctx context.Context, req *ifacev1.ManualClassifyRequest) (*ifacev1.ManualClassifyResponse, error) {
	res, err := is.s.store.Classify(req.GetInterfaceIds(), store.Classification{
		ConnectivityType: req.GetConnectivityType(),
		NetworkBoundary:  req.GetNetworkBoundary(),
		Provider:         req.GetProvider(),
	})
	if err != nil {
		return nil, storeError(err)
	}
	if n := len(res.UnknownIDs); n > 0 {
		is.s.unknownIDs.Add(int64(n))
		is.s.log.LogAttrs(ctx, slog.LevelWarn, "ManualClassify skipped unknown interface ids",
			slog.Int("unknown", n), slog.Any("first", res.UnknownIDs[:min(n, 10)]), slog.Int("classified", res.Classified))
	}
	return &ifacev1.ManualClassifyResponse{DeviceIds: res.DeviceIDs}, nil
}
