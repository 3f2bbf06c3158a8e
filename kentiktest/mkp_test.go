package kentiktest_test

import (
	"slices"
	"strconv"
	"testing"

	"google.golang.org/grpc/codes"

	kentikclient "github.com/gokentik/kentik/client"
	mkpv1 "github.com/gokentik/kentik/gen/kentik/mkp/v202407"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/mykentik"
	"github.com/gokentik/kentik/ratelimit"
)

// clients returns the V5 adapter and the v6 client of the project, both pointed at s.
func clients(t *testing.T, s *kentiktest.Server) (*mykentik.Client, *kentikclient.Client) {
	t.Helper()
	v5, err := mykentik.New(ctx(t), mykentik.WithBaseURL(s.V5URL()), mykentik.WithCredentials(s.Credentials()), mykentik.WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v5.Close() })
	v6, err := kentikclient.New(ctx(t), kentikclient.WithEndpoint(s.GRPCAddr()), kentikclient.WithPlaintext(),
		kentikclient.WithCredentials(s.Credentials()), kentikclient.WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v6.Close() })
	return v5, v6
}

func v6Emails(t *testing.T, c mkpv1.TenantUserServiceClient, tenant string) []string {
	t.Helper()
	resp, err := c.ListTenantUser(ctx(t), &mkpv1.ListTenantUserRequest{TenantId: tenant})
	if err != nil {
		t.Fatalf("ListTenantUser %s: %v", tenant, err)
	}
	var out []string
	for _, u := range resp.GetUsers() {
		out = append(out, u.GetUserEmail())
	}
	return out
}

func v5Emails(t *testing.T, c *mykentik.Client, tenant int64) []string {
	t.Helper()
	tn, err := c.GetTenant(ctx(t), tenant)
	if err != nil {
		t.Fatalf("V5 GetTenant %d: %v", tenant, err)
	}
	var out []string
	for _, u := range tn.Users {
		out = append(out, u.Email)
	}
	return out
}

// A user added through V5 is listed through v6, and the other way round: one store of
// tenants behind both APIs, each client going through its own API.
func TestMyKentikV5AndV6ShareTenants(t *testing.T) {
	s := startOff(t)
	v5, v6 := clients(t, s)
	tenants := mkpv1.NewTenantServiceClient(v6.Conn())
	users := mkpv1.NewTenantUserServiceClient(v6.Conn())

	// The same tenants.
	list, err := tenants.ListTenant(ctx(t), &mkpv1.ListTenantRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v5List, err := v5.ListTenants(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTenants()) != len(v5List) || len(v5List) != 3 {
		t.Fatalf("v6 lists %d tenants, V5 %d", len(list.GetTenants()), len(v5List))
	}
	for i, tn := range list.GetTenants() {
		if tn.GetId() != fmtID(v5List[i].ID) || tn.GetName() != v5List[i].Name || tn.GetCompanyId() != v5List[i].CompanyID || tn.GetDescription() != v5List[i].Description {
			t.Errorf("tenant %d: v6 %v, V5 %+v", i, tn, v5List[i])
		}
	}

	// V5 → v6.
	added, err := v5.CreateTenantUser(ctx(t), 103, "dana@initech.example")
	if err != nil {
		t.Fatal(err)
	}
	if got := v6Emails(t, users, "103"); !slices.Equal(got, []string{"dana@initech.example"}) {
		t.Errorf("v6 lists %v after the V5 add", got)
	}
	// v6 → V5.
	created, err := users.CreateTenantUser(ctx(t), &mkpv1.CreateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "103", UserEmail: "erin@initech.example", UserFullName: "Erin Example"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := v5Emails(t, v5, 103); !slices.Equal(got, []string{"dana@initech.example", "erin@initech.example"}) {
		t.Errorf("V5 lists %v after the v6 add", got)
	}
	tn, _ := v5.GetTenant(ctx(t), 103)
	if u := tn.Users[1]; u.ID != created.GetUser().GetId() || u.FullName != "Erin Example" || u.TenantID != "103" {
		t.Errorf("V5 sees the v6 user as %+v, v6 answered %v", u, created.GetUser())
	}
	// The same email twice, through either API, is refused.
	_, err = users.CreateTenantUser(ctx(t), &mkpv1.CreateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "103", UserEmail: "DANA@initech.example"}})
	wantCode(t, "duplicate through v6", err, codes.AlreadyExists)

	// Deleting through one API removes it from the other.
	if _, err := users.DeleteTenantUser(ctx(t), &mkpv1.DeleteTenantUserRequest{TenantId: "103", Id: added.ID}); err != nil {
		t.Fatal(err)
	}
	if got := v5Emails(t, v5, 103); !slices.Equal(got, []string{"erin@initech.example"}) {
		t.Errorf("V5 lists %v after the v6 delete", got)
	}
	if err := v5.DeleteTenantUser(ctx(t), 103, created.GetUser().GetId()); err != nil {
		t.Fatal(err)
	}
	if got := v6Emails(t, users, "103"); len(got) != 0 {
		t.Errorf("v6 lists %v after the V5 delete", got)
	}

	// Each API counted its own calls.
	st := s.Stats()
	if st.GRPC.Calls[mkpv1.TenantUserService_ListTenantUser_FullMethodName] != 2 || st.V5.Calls[kentiktest.V5TenantUserCreate] != 1 {
		t.Errorf("stats: gRPC %v, V5 %v", st.GRPC.Calls, st.V5.Calls)
	}
}

func TestMyKentikV6Tenants(t *testing.T) {
	s := startOff(t)
	v5, v6 := clients(t, s)
	tenants := mkpv1.NewTenantServiceClient(v6.Conn())
	users := mkpv1.NewTenantUserServiceClient(v6.Conn())

	got, err := tenants.GetTenant(ctx(t), &mkpv1.GetTenantRequest{Id: "101"})
	if err != nil || got.GetTenant().GetName() != "Acme Networks" {
		t.Fatalf("GetTenant: %v, %v", got, err)
	}
	created, err := tenants.CreateTenant(ctx(t), &mkpv1.CreateTenantRequest{Tenant: &mkpv1.Tenant{Id: "5", Name: " Umbrella ", Description: "new"}})
	if err != nil || created.GetTenant().GetId() != "104" || created.GetTenant().GetName() != "Umbrella" {
		t.Fatalf("CreateTenant: %v, %v", created, err)
	}
	if _, err := tenants.UpdateTenant(ctx(t), &mkpv1.UpdateTenantRequest{Tenant: &mkpv1.Tenant{Id: "104", Name: "Umbrella Corp"}}); err != nil {
		t.Fatal(err)
	}
	if tn, err := v5.GetTenant(ctx(t), 104); err != nil || tn.Name != "Umbrella Corp" || tn.Description != "" {
		t.Errorf("V5 sees %+v, %v", tn, err)
	}
	u, err := users.CreateTenantUser(ctx(t), &mkpv1.CreateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "104", UserEmail: "a@umbrella.example"}})
	if err != nil {
		t.Fatal(err)
	}
	upd, err := users.UpdateTenantUser(ctx(t), &mkpv1.UpdateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "104", Id: u.GetUser().GetId(), UserEmail: "b@umbrella.example", UserFullName: "B"}})
	if err != nil || upd.GetUser().GetUserEmail() != "b@umbrella.example" || upd.GetUser().GetUserFullName() != "B" {
		t.Errorf("UpdateTenantUser: %v, %v", upd, err)
	}
	if got := v5Emails(t, v5, 104); !slices.Equal(got, []string{"b@umbrella.example"}) {
		t.Errorf("V5 lists %v after the update", got)
	}
	if _, err := tenants.DeleteTenant(ctx(t), &mkpv1.DeleteTenantRequest{Id: "104"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Tenant(104); ok {
		t.Error("tenant 104 still there")
	}
	// A deleted tenant's id is not given again.
	again, err := tenants.CreateTenant(ctx(t), &mkpv1.CreateTenantRequest{Tenant: &mkpv1.Tenant{Name: "Umbrella again"}})
	if err != nil || again.GetTenant().GetId() != "105" {
		t.Fatalf("CreateTenant after a delete: %v, %v", again, err)
	}

	for name, call := range map[string]struct {
		err  error
		want codes.Code
	}{
		"get malformed":           {err2(tenants.GetTenant(ctx(t), &mkpv1.GetTenantRequest{Id: "abc"})), codes.InvalidArgument},
		"get empty":               {err2(tenants.GetTenant(ctx(t), &mkpv1.GetTenantRequest{})), codes.InvalidArgument},
		"get unknown":             {err2(tenants.GetTenant(ctx(t), &mkpv1.GetTenantRequest{Id: "104"})), codes.NotFound},
		"create nameless":         {err2(tenants.CreateTenant(ctx(t), &mkpv1.CreateTenantRequest{})), codes.InvalidArgument},
		"update unknown":          {err2(tenants.UpdateTenant(ctx(t), &mkpv1.UpdateTenantRequest{Tenant: &mkpv1.Tenant{Id: "999", Name: "x"}})), codes.NotFound},
		"delete unknown":          {err2(tenants.DeleteTenant(ctx(t), &mkpv1.DeleteTenantRequest{Id: "999"})), codes.NotFound},
		"users of unknown":        {err2(users.ListTenantUser(ctx(t), &mkpv1.ListTenantUserRequest{TenantId: "999"})), codes.NotFound},
		"bad email":               {err2(users.CreateTenantUser(ctx(t), &mkpv1.CreateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "101", UserEmail: "Alice <a@b.example>"}})), codes.InvalidArgument},
		"no email":                {err2(users.CreateTenantUser(ctx(t), &mkpv1.CreateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "101"}})), codes.InvalidArgument},
		"update unknown user":     {err2(users.UpdateTenantUser(ctx(t), &mkpv1.UpdateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "101", Id: "1", UserEmail: "x@y.example"}})), codes.NotFound},
		"update to a taken email": {err2(users.UpdateTenantUser(ctx(t), &mkpv1.UpdateTenantUserRequest{User: &mkpv1.TenantUser{TenantId: "101", Id: "300002", UserEmail: "alice@acme.example"}})), codes.AlreadyExists},
		"delete unknown user":     {err2(users.DeleteTenantUser(ctx(t), &mkpv1.DeleteTenantUserRequest{TenantId: "101", Id: "1"})), codes.NotFound},
	} {
		wantCode(t, name, call.err, call.want)
	}
}

func err2[T any](_ T, err error) error { return err }

func fmtID(id int64) string { return strconv.FormatInt(id, 10) }
