package kentiktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
)

// V5Prefix is the path every V5 REST endpoint lives under.
const V5Prefix = "/api/v5"

// Tenant is a My Kentik tenant as the V5 API returns it. Kentik's documentation names
// the dates twice: its field table says cdate/edate, its JSON example created_date and
// updated_date. The example is what Kentik sends (Kentik's own Go and Python SDKs decode
// created_date/updated_date and nothing else), so the fake sends that: a client that
// read cdate would pass against the fake and find no dates at Kentik.
type Tenant struct {
	ID          int64        `json:"id"`
	CompanyID   string       `json:"company_id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	CDate       string       `json:"created_date"` // UTC, ISO 8601 with milliseconds
	EDate       string       `json:"updated_date"`
	Users       []TenantUser `json:"users"`
}

// TenantUser is a user assigned to a tenant. Kentik sends its ids as strings.
type TenantUser struct {
	ID           string  `json:"id"`
	CompanyID    string  `json:"company_id"`
	UserEmail    string  `json:"user_email"`
	UserName     string  `json:"user_name"`
	UserFullName string  `json:"user_full_name"`
	TenantID     string  `json:"tenant_id"`
	LastLogin    *string `json:"last_login"` // null until the user first signs in
}

// v5Time is the date format of the V5 API, e.g. 2015-01-27T01:39:17.186Z.
const v5Time = "2006-01-02T15:04:05.000Z"

// companyID is the fake customer every tenant belongs to.
const companyID = "74321"

func defaultTenants() []Tenant {
	login := func(s string) *string { return &s }
	return []Tenant{
		{
			ID: 101, CompanyID: companyID, Name: "Acme Networks",
			Description: "Managed WAN customer: Frankfurt and Amsterdam sites.",
			CDate:       "2023-02-14T09:30:00.000Z", EDate: "2024-11-03T16:05:12.345Z",
			Users: []TenantUser{
				{ID: "300001", CompanyID: companyID, UserEmail: "alice@acme.example", UserName: "alice", UserFullName: "Alice Archer", TenantID: "101", LastLogin: login("2025-05-20T07:41:09.512Z")},
				{ID: "300002", CompanyID: companyID, UserEmail: "bob@acme.example", UserName: "bob_noc", UserFullName: "Bob Baker", TenantID: "101"},
			},
		},
		{
			ID: 102, CompanyID: companyID, Name: "Globex Hosting",
			Description: "Colocation tenant with two 100G uplinks.",
			CDate:       "2023-06-01T12:00:00.000Z", EDate: "2025-01-09T10:11:12.131Z",
			Users: []TenantUser{
				{ID: "300003", CompanyID: companyID, UserEmail: "carol@globex.example", UserName: "carol", UserFullName: "Carol Chen", TenantID: "102", LastLogin: login("2025-04-02T18:22:47.001Z")},
			},
		},
		{
			ID: 103, CompanyID: companyID, Name: "Initech Labs",
			Description: "Trial tenant, no users yet.",
			CDate:       "2024-09-30T08:15:00.000Z", EDate: "2024-09-30T08:15:00.000Z",
			Users: []TenantUser{},
		},
	}
}

func cloneTenants(ts []Tenant) []Tenant {
	out := make([]Tenant, len(ts))
	for i, t := range ts {
		out[i] = t
		out[i].Users = make([]TenantUser, len(t.Users))
		for j, u := range t.Users {
			if u.LastLogin != nil {
				l := *u.LastLogin
				u.LastLogin = &l
			}
			out[i].Users[j] = u
		}
	}
	return out
}

// tenantStore holds the tenants, ordered by id.
type tenantStore struct {
	mu         sync.Mutex
	tenants    []Tenant // ordered by id
	nextTenant int64    // above every id ever given: a deleted tenant's id is not given again
	nextUser   int64
}

func newTenantStore(ts []Tenant, started time.Time) (*tenantStore, error) {
	st := &tenantStore{tenants: cloneTenants(ts), nextTenant: 1, nextUser: 300001}
	slices.SortFunc(st.tenants, func(a, b Tenant) int { return int(min(max(a.ID-b.ID, -1), 1)) })
	seenT, seenU := map[int64]bool{}, map[string]bool{}
	for i := range st.tenants {
		t := &st.tenants[i]
		if t.ID <= 0 || seenT[t.ID] {
			return nil, fmt.Errorf("kentiktest: tenant id %d is not positive or not unique", t.ID)
		}
		seenT[t.ID] = true
		st.nextTenant = max(st.nextTenant, t.ID+1)
		if t.CDate == "" {
			t.CDate = started.UTC().Format(v5Time)
		}
		if t.EDate == "" {
			t.EDate = t.CDate
		}
		if t.CompanyID == "" {
			t.CompanyID = companyID // Kentik always says whose tenant it is
		}
		if t.Users == nil {
			t.Users = []TenantUser{} // a JSON array, never null
		}
		for j := range t.Users {
			u := &t.Users[j]
			if seenU[u.ID] || u.ID == "" {
				return nil, fmt.Errorf("kentiktest: user id %q of tenant %d is empty or not unique", u.ID, t.ID)
			}
			seenU[u.ID] = true
			if u.CompanyID == "" {
				u.CompanyID = t.CompanyID
			}
			if u.TenantID == "" {
				u.TenantID = strconv.FormatInt(t.ID, 10)
			}
			if n, err := strconv.ParseInt(u.ID, 10, 64); err == nil && n >= st.nextUser {
				st.nextUser = n + 1
			}
		}
	}
	return st, nil
}

// find returns the index of tenant id, or -1. mu held.
func (st *tenantStore) find(id int64) int {
	i, ok := slices.BinarySearchFunc(st.tenants, id, func(t Tenant, id int64) int { return int(min(max(t.ID-id, -1), 1)) })
	if !ok {
		return -1
	}
	return i
}

func (st *tenantStore) list() []Tenant {
	st.mu.Lock()
	defer st.mu.Unlock()
	return cloneTenants(st.tenants)
}

func (st *tenantStore) get(id int64) (Tenant, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(id)
	if i < 0 {
		return Tenant{}, false
	}
	return cloneTenants(st.tenants[i : i+1])[0], true
}

var (
	errNoTenant  = errors.New("tenant not found")
	errNoUser    = errors.New("user not found")
	errDuplicate = errors.New("user already assigned")
)

func (st *tenantStore) addUser(tid int64, email, fullName string, now time.Time) (TenantUser, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(tid)
	if i < 0 {
		return TenantUser{}, errNoTenant
	}
	t := &st.tenants[i]
	for _, u := range t.Users {
		if strings.EqualFold(u.UserEmail, email) {
			return TenantUser{}, fmt.Errorf("%w: %s already belongs to tenant %d as user %s", errDuplicate, email, tid, u.ID)
		}
	}
	u := TenantUser{
		ID:           strconv.FormatInt(st.nextUser, 10),
		CompanyID:    t.CompanyID,
		UserEmail:    email,
		UserName:     userName(email),
		UserFullName: fullName,
		TenantID:     strconv.FormatInt(t.ID, 10),
	}
	st.nextUser++
	t.Users = append(t.Users, u)
	t.EDate = now.UTC().Format(v5Time)
	return u, nil
}

func (st *tenantStore) removeUser(tid int64, uid string, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(tid)
	if i < 0 {
		return errNoTenant
	}
	t := &st.tenants[i]
	j := slices.IndexFunc(t.Users, func(u TenantUser) bool { return u.ID == uid })
	if j < 0 {
		return errNoUser
	}
	t.Users = slices.Delete(t.Users, j, j+1)
	t.EDate = now.UTC().Format(v5Time)
	return nil
}

// userName derives a user_name from an email's local part: letters, digits and
// underscores, 3 to 40 characters, as Kentik requires.
func userName(email string) string {
	local, _, _ := strings.Cut(email, "@")
	var b strings.Builder
	for _, r := range local {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := b.String()
	for len(n) < 3 {
		n += "_"
	}
	return n[:min(len(n), 40)]
}

// validEmail accepts a bare address (no display name, no angle brackets) with a dotted
// domain, as net/mail parses it.
func validEmail(e string) bool {
	if e == "" || len(e) > 254 {
		return false
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return false
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// v5Route is one V5 endpoint.
type v5Route struct {
	op     string
	method string
	path   string
	handle func(*Server, http.ResponseWriter, *http.Request)
}

var v5Routes = []v5Route{
	{V5TenantList, http.MethodGet, V5Prefix + "/mykentik/tenants", (*Server).tenantList},
	{V5TenantInfo, http.MethodGet, V5Prefix + "/mykentik/tenant/{id}", (*Server).tenantInfo},
	{V5TenantUserCreate, http.MethodPost, V5Prefix + "/mykentik/tenant/{id}/user", (*Server).tenantUserCreate},
	{V5TenantUserDelete, http.MethodDelete, V5Prefix + "/mykentik/tenant/{id}/user/{user_id}", (*Server).tenantUserDelete},
}

// newV5Handler builds the V5 REST handler. Every request under /api/v5 is recorded,
// authenticated, then admitted by the V5 limiter and the fault injector, in that order;
// unknown paths answer 404 and known paths with the wrong method 405, both with a JSON
// {"error": "..."} body like every other error.
func (s *Server) newV5Handler() http.Handler {
	mux := http.NewServeMux()
	ops := map[string]string{}
	allowed := map[string][]string{}
	for _, rt := range v5Routes {
		pattern := rt.method + " " + rt.path
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { rt.handle(s, w, r) })
		ops[pattern] = rt.op
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for p, methods := range allowed {
		allow := strings.Join(methods, ", ")
		// Without these, ServeMux would answer 405 itself, in plain text.
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != V5Prefix && !strings.HasPrefix(r.URL.Path, V5Prefix+"/") {
			mux.ServeHTTP(w, r) // 404, no credentials needed
			return
		}
		_, pattern := mux.Handler(r)
		op, ok := ops[pattern]
		if !ok {
			op = v5Other
		}
		s.record(Request{API: "v5", Method: op, Header: lowerHeader(r.Header), UserAgent: r.UserAgent(), Time: time.Now()})
		defer s.v5API.received(op)()

		if ref := s.authenticate(r.Header.Values(kentik.HeaderEmail), r.Header.Values(kentik.HeaderToken), kentik.HeaderEmail, kentik.HeaderToken); ref != nil {
			s.v5API.reject(RejectUnauthenticated)
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "unauthenticated call", slog.String("api", "v5"), slog.String("method", op))
			writeError(w, http.StatusUnauthorized, ref.msg)
			return
		}
		done, ref := s.gate(r.Context(), s.v5API, op)
		if ref != nil {
			if ref.retryAfter > 0 {
				secs := (ref.retryAfter + time.Second - 1) / time.Second
				w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
			}
			writeError(w, httpStatus(ref.code), ref.msg)
			return
		}
		defer done()
		mux.ServeHTTP(w, r)
	})
}

// lowerHeader copies h with lower-case keys, like gRPC metadata.
func lowerHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = slices.Clone(v)
	}
	return out
}

// httpStatus maps a gRPC code to the HTTP status Google's API gateways use for it.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // client closed request
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeJSON writes v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// tenantID reads the {id} path value; a non-numeric id names no tenant.
func tenantID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) tenantList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.tenants.list())
}

func (s *Server) tenantInfo(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(r)
	if ok {
		var t Tenant
		if t, ok = s.tenants.get(id); ok {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", r.PathValue("id")))
}

// tenantUserCreate accepts {"user_email": "..."} as documented, and also the
// {"user": {"user_email": "..."}} envelope other V5 admin APIs use.
func (s *Server) tenantUserCreate(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(r)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", r.PathValue("id")))
		return
	}
	var body struct {
		UserEmail *string `json:"user_email"`
		User      *struct {
			UserEmail *string `json:"user_email"`
		} `json:"user"`
	}
	const want = `want a JSON body {"user_email": "user@example.com"}`
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid request body: %v; %s", err, want))
		return
	}
	var email *string
	switch {
	case body.UserEmail != nil:
		email = body.UserEmail
	case body.User != nil && body.User.UserEmail != nil:
		email = body.User.UserEmail
	}
	if email == nil {
		writeError(w, http.StatusBadRequest, "user_email is required; "+want)
		return
	}
	e := strings.TrimSpace(*email)
	if !validEmail(e) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("user_email %q is not a valid email address", e))
		return
	}
	u, err := s.tenants.addUser(id, e, "", time.Now())
	switch {
	case errors.Is(err, errNoTenant):
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %d not found", id))
	case errors.Is(err, errDuplicate):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, u)
	}
}

func (s *Server) tenantUserDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(r)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", r.PathValue("id")))
		return
	}
	uid := r.PathValue("user_id")
	switch err := s.tenants.removeUser(id, uid, time.Now()); {
	case errors.Is(err, errNoTenant):
		writeError(w, http.StatusNotFound, fmt.Sprintf("tenant %d not found", id))
	case errors.Is(err, errNoUser):
		writeError(w, http.StatusNotFound, fmt.Sprintf("user %q not found in tenant %d", uid, id))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
