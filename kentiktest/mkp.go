package kentiktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mkpv1 "github.com/gokentik/kentik/gen/kentik/mkp/v202407"
)

// mkpService implements My Kentik's v6 TenantService and TenantUserService
// (kentik.mkp.v202407) over the tenants the V5 endpoints serve: a user added through
// either API is seen through the other. The v6 tenant carries only what the V5 one
// has (id, company_id, name, description); its deprecated users field stays empty, as
// TenantUserService lists the users.
type mkpService struct {
	mkpv1.UnimplementedTenantServiceServer
	mkpv1.UnimplementedTenantUserServiceServer
	s *Server
}

var (
	_ mkpv1.TenantServiceServer     = (*mkpService)(nil)
	_ mkpv1.TenantUserServiceServer = (*mkpService)(nil)
)

func (ms *mkpService) handlers() map[string]Handler {
	return map[string]Handler{
		mkpv1.TenantService_ListTenant_FullMethodName:           typed(ms.ListTenant),
		mkpv1.TenantService_GetTenant_FullMethodName:            typed(ms.GetTenant),
		mkpv1.TenantService_CreateTenant_FullMethodName:         typed(ms.CreateTenant),
		mkpv1.TenantService_UpdateTenant_FullMethodName:         typed(ms.UpdateTenant),
		mkpv1.TenantService_DeleteTenant_FullMethodName:         typed(ms.DeleteTenant),
		mkpv1.TenantUserService_ListTenantUser_FullMethodName:   typed(ms.ListTenantUser),
		mkpv1.TenantUserService_CreateTenantUser_FullMethodName: typed(ms.CreateTenantUser),
		mkpv1.TenantUserService_UpdateTenantUser_FullMethodName: typed(ms.UpdateTenantUser),
		mkpv1.TenantUserService_DeleteTenantUser_FullMethodName: typed(ms.DeleteTenantUser),
	}
}

func v6Tenant(t Tenant) *mkpv1.Tenant {
	return &mkpv1.Tenant{Id: strconv.FormatInt(t.ID, 10), CompanyId: t.CompanyID, Name: t.Name, Description: t.Description}
}

func v6User(u TenantUser) *mkpv1.TenantUser {
	return &mkpv1.TenantUser{Id: u.ID, TenantId: u.TenantID, UserFullName: u.UserFullName, UserEmail: u.UserEmail}
}

// parseTenantID reads a tenant id: INVALID_ARGUMENT when empty or not a positive
// number (field names the request field in the message).
func parseTenantID(field, id string) (int64, error) {
	if id == "" {
		return 0, status.Errorf(codes.InvalidArgument, "kentiktest: %s is required", field)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return 0, status.Errorf(codes.InvalidArgument, "kentiktest: %s %q is not a tenant id (a positive decimal number)", field, id)
	}
	return n, nil
}

// tenantError turns a tenant store error into a status.
func tenantError(err error) error {
	switch {
	case errors.Is(err, errNoTenant), errors.Is(err, errNoUser):
		return status.Error(codes.NotFound, "kentiktest: "+err.Error())
	case errors.Is(err, errDuplicate):
		return status.Error(codes.AlreadyExists, "kentiktest: "+err.Error())
	}
	return status.Error(codes.Internal, "kentiktest: "+err.Error())
}

// ListTenant returns every tenant, ordered by id.
func (ms *mkpService) ListTenant(context.Context, *mkpv1.ListTenantRequest) (*mkpv1.ListTenantResponse, error) {
	ts := ms.s.tenants.list()
	out := make([]*mkpv1.Tenant, len(ts))
	for i, t := range ts {
		out[i] = v6Tenant(t)
	}
	return &mkpv1.ListTenantResponse{Tenants: out}, nil
}

// GetTenant returns one tenant: INVALID_ARGUMENT for a malformed id, NOT_FOUND for an
// unknown one.
func (ms *mkpService) GetTenant(_ context.Context, req *mkpv1.GetTenantRequest) (*mkpv1.GetTenantResponse, error) {
	id, err := parseTenantID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	t, ok := ms.s.tenants.get(id)
	if !ok {
		return nil, tenantError(fmt.Errorf("%w: %d", errNoTenant, id))
	}
	return &mkpv1.GetTenantResponse{Tenant: v6Tenant(t)}, nil
}

// CreateTenant adds a tenant with the given name (required) and description; the fake
// assigns the id (a client's id is ignored) and the company.
func (ms *mkpService) CreateTenant(_ context.Context, req *mkpv1.CreateTenantRequest) (*mkpv1.CreateTenantResponse, error) {
	in := req.GetTenant()
	if strings.TrimSpace(in.GetName()) == "" {
		return nil, status.Error(codes.InvalidArgument, "kentiktest: tenant.name is required")
	}
	t := ms.s.tenants.createTenant(strings.TrimSpace(in.GetName()), in.GetDescription(), time.Now())
	return &mkpv1.CreateTenantResponse{Tenant: v6Tenant(t)}, nil
}

// UpdateTenant sets the name (required) and description of tenant.id.
func (ms *mkpService) UpdateTenant(_ context.Context, req *mkpv1.UpdateTenantRequest) (*mkpv1.UpdateTenantResponse, error) {
	in := req.GetTenant()
	id, err := parseTenantID("tenant.id", in.GetId())
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.GetName()) == "" {
		return nil, status.Error(codes.InvalidArgument, "kentiktest: tenant.name is required")
	}
	t, err := ms.s.tenants.updateTenant(id, strings.TrimSpace(in.GetName()), in.GetDescription(), time.Now())
	if err != nil {
		return nil, tenantError(err)
	}
	return &mkpv1.UpdateTenantResponse{Tenant: v6Tenant(t)}, nil
}

// DeleteTenant removes a tenant and its users.
func (ms *mkpService) DeleteTenant(_ context.Context, req *mkpv1.DeleteTenantRequest) (*mkpv1.DeleteTenantResponse, error) {
	id, err := parseTenantID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	if err := ms.s.tenants.deleteTenant(id); err != nil {
		return nil, tenantError(err)
	}
	return &mkpv1.DeleteTenantResponse{}, nil
}

// ListTenantUser returns the users of tenant_id, in the order they were added.
func (ms *mkpService) ListTenantUser(_ context.Context, req *mkpv1.ListTenantUserRequest) (*mkpv1.ListTenantUserResponse, error) {
	id, err := parseTenantID("tenant_id", req.GetTenantId())
	if err != nil {
		return nil, err
	}
	t, ok := ms.s.tenants.get(id)
	if !ok {
		return nil, tenantError(fmt.Errorf("%w: %d", errNoTenant, id))
	}
	out := make([]*mkpv1.TenantUser, len(t.Users))
	for i, u := range t.Users {
		out[i] = v6User(u)
	}
	return &mkpv1.ListTenantUserResponse{Users: out}, nil
}

// CreateTenantUser adds user.user_email (required, a valid address, not yet a user of
// the tenant: ALREADY_EXISTS otherwise) with user.user_full_name to user.tenant_id, as
// the V5 TenantUserCreate does.
func (ms *mkpService) CreateTenantUser(_ context.Context, req *mkpv1.CreateTenantUserRequest) (*mkpv1.CreateTenantUserResponse, error) {
	in := req.GetUser()
	id, err := parseTenantID("user.tenant_id", in.GetTenantId())
	if err != nil {
		return nil, err
	}
	email, err := checkUserEmail(in.GetUserEmail())
	if err != nil {
		return nil, err
	}
	u, err := ms.s.tenants.addUser(id, email, strings.TrimSpace(in.GetUserFullName()), time.Now())
	if err != nil {
		return nil, tenantError(err)
	}
	return &mkpv1.CreateTenantUserResponse{User: v6User(u)}, nil
}

// UpdateTenantUser sets the email (required) and full name of user.id of
// user.tenant_id.
func (ms *mkpService) UpdateTenantUser(_ context.Context, req *mkpv1.UpdateTenantUserRequest) (*mkpv1.UpdateTenantUserResponse, error) {
	in := req.GetUser()
	id, err := parseTenantID("user.tenant_id", in.GetTenantId())
	if err != nil {
		return nil, err
	}
	if in.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "kentiktest: user.id is required")
	}
	email, err := checkUserEmail(in.GetUserEmail())
	if err != nil {
		return nil, err
	}
	u, err := ms.s.tenants.updateUser(id, in.GetId(), email, strings.TrimSpace(in.GetUserFullName()), time.Now())
	if err != nil {
		return nil, tenantError(err)
	}
	return &mkpv1.UpdateTenantUserResponse{User: v6User(u)}, nil
}

// DeleteTenantUser removes user id from tenant_id, as the V5 TenantUserDelete does.
func (ms *mkpService) DeleteTenantUser(_ context.Context, req *mkpv1.DeleteTenantUserRequest) (*mkpv1.DeleteTenantUserResponse, error) {
	id, err := parseTenantID("tenant_id", req.GetTenantId())
	if err != nil {
		return nil, err
	}
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "kentiktest: id is required")
	}
	if err := ms.s.tenants.removeUser(id, req.GetId(), time.Now()); err != nil {
		return nil, tenantError(err)
	}
	return &mkpv1.DeleteTenantUserResponse{}, nil
}

func checkUserEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", status.Error(codes.InvalidArgument, "kentiktest: user.user_email is required")
	}
	if !validEmail(e) {
		return "", status.Errorf(codes.InvalidArgument, "kentiktest: user.user_email %q is not a valid email address", e)
	}
	return e, nil
}

// createTenant adds a tenant with a new id, above every id given so far (so the
// tenants stay ordered by id).
func (st *tenantStore) createTenant(name, description string, now time.Time) Tenant {
	st.mu.Lock()
	defer st.mu.Unlock()
	id := st.nextTenant
	st.nextTenant++
	at := now.UTC().Format(v5Time)
	t := Tenant{ID: id, CompanyID: companyID, Name: name, Description: description, CDate: at, EDate: at, Users: []TenantUser{}}
	st.tenants = append(st.tenants, t)
	return cloneTenants([]Tenant{t})[0]
}

func (st *tenantStore) updateTenant(id int64, name, description string, now time.Time) (Tenant, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(id)
	if i < 0 {
		return Tenant{}, fmt.Errorf("%w: %d", errNoTenant, id)
	}
	t := &st.tenants[i]
	t.Name, t.Description, t.EDate = name, description, now.UTC().Format(v5Time)
	return cloneTenants(st.tenants[i : i+1])[0], nil
}

func (st *tenantStore) deleteTenant(id int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(id)
	if i < 0 {
		return fmt.Errorf("%w: %d", errNoTenant, id)
	}
	st.tenants = slices.Delete(st.tenants, i, i+1)
	return nil
}

// updateUser sets a user's email and full name; the email must stay unique in the
// tenant.
func (st *tenantStore) updateUser(tid int64, uid, email, fullName string, now time.Time) (TenantUser, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(tid)
	if i < 0 {
		return TenantUser{}, fmt.Errorf("%w: %d", errNoTenant, tid)
	}
	t := &st.tenants[i]
	j := slices.IndexFunc(t.Users, func(u TenantUser) bool { return u.ID == uid })
	if j < 0 {
		return TenantUser{}, fmt.Errorf("%w: %q in tenant %d", errNoUser, uid, tid)
	}
	for _, u := range t.Users {
		if u.ID != uid && strings.EqualFold(u.UserEmail, email) {
			return TenantUser{}, fmt.Errorf("%w: %s already belongs to tenant %d as user %s", errDuplicate, email, tid, u.ID)
		}
	}
	u := &t.Users[j]
	if !strings.EqualFold(u.UserEmail, email) {
		u.UserName = userName(email)
	}
	u.UserEmail, u.UserFullName = email, fullName
	t.EDate = now.UTC().Format(v5Time)
	return cloneTenants(st.tenants[i : i+1])[0].Users[j], nil
}
