package mykentik

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantTenant is what every documented form of the sample tenant must decode to.
func wantTenant() Tenant {
	return Tenant{
		ID:          7,
		CompanyID:   "1001",
		Name:        "acme",
		Description: "Acme Corp",
		Created:     time.Date(2018, 10, 11, 22, 52, 5, 833_000_000, time.UTC),
		Edited:      time.Date(2019, 1, 11, 16, 23, 17, 267_000_000, time.UTC),
		Users: []User{{
			ID:        "42",
			CompanyID: "1001",
			Email:     "jane@example.com",
			UserName:  "jane_doe",
			FullName:  "Jane Doe",
			TenantID:  "7",
			LastLogin: time.Date(2019, 3, 1, 17, 48, 51, 113_000_000, time.UTC),
		}},
	}
}

const canonicalTenant = `{"id":7,"company_id":"1001","name":"acme","description":"Acme Corp",` +
	`"created_date":"2018-10-11T22:52:05.833Z","updated_date":"2019-01-11T16:23:17.267Z",` +
	`"users":[{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe",` +
	`"user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113Z"}]}`

const canonicalUser = `{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe",` +
	`"user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113Z"}`

// tenantForms are the sample tenant in every shape the two editions of Kentik's docs
// (and servers seen in practice) describe.
var tenantForms = map[string]string{
	// The documentation's example: numeric tenant id, string ids in users,
	// created_date/updated_date.
	"doc example": `{"id":7,"company_id":"1001","name":"acme","description":"Acme Corp",
		"users":[{"id":"42","user_email":"jane@example.com","user_name":"jane_doe","user_full_name":"Jane Doe",
		"last_login":"2019-03-01T17:48:51.113Z","tenant_id":"7","company_id":"1001"}],
		"created_date":"2018-10-11T22:52:05.833Z","updated_date":"2019-01-11T16:23:17.267Z"}`,
	// The field table: cdate/edate.
	"field table": `{"id":7,"company_id":"1001","name":"acme","description":"Acme Corp",
		"cdate":"2018-10-11T22:52:05.833Z","edate":"2019-01-11T16:23:17.267Z",
		"users":[{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe",
		"user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113Z"}]}`,
	// Every id the other way round: strings where numbers were, numbers where strings were.
	"ids flipped": `{"id":"7","company_id":1001,"name":"acme","description":"Acme Corp",
		"created_date":"2018-10-11T22:52:05.833Z","edate":"2019-01-11T16:23:17.267Z",
		"users":[{"id":42,"company_id":1001,"user_email":"jane@example.com","user_name":"jane_doe",
		"user_full_name":"Jane Doe","tenant_id":7,"last_login":"2019-03-01T17:48:51.113Z"}]}`,
	// Same instants written with offsets, no zone (UTC per the docs), a space separator.
	"time variants": `{"id":7,"company_id":"1001","name":"acme","description":"Acme Corp",
		"cdate":"2018-10-12T00:52:05.833+02:00","edate":"2019-01-11T16:23:17.267",
		"users":[{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe",
		"user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01 12:48:51.113-05:00"}]}`,
	// Both names present (created_date wins), nulls for the loser, an unknown field.
	"both names": `{"id":7,"company_id":"1001","name":"acme","description":"Acme Corp",
		"created_date":"2018-10-11T22:52:05.833Z","cdate":"1999-01-01T00:00:00Z",
		"updated_date":null,"edate":"2019-01-11T16:23:17.267Z","extra":{"x":[1,2]},
		"users":[{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe",
		"user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113Z","role":"Member"}]}`,
}

func TestTenantFormsDecodeAlike(t *testing.T) {
	want := wantTenant()
	for name, body := range tenantForms {
		t.Run(name, func(t *testing.T) {
			for _, wrap := range []string{"%s", `{"tenant":%s}`, "  %s\n"} {
				got, err := decodeTenant([]byte(strings.Replace(wrap, "%s", body, 1)))
				if err != nil {
					t.Fatalf("%s: %v", wrap, err)
				}
				if !reflect.DeepEqual(*got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", wrap, *got, want)
				}
				b, err := json.Marshal(got)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != canonicalTenant {
					t.Errorf("canonical form:\n got %s\nwant %s", b, canonicalTenant)
				}
			}
			for _, wrap := range []string{"[%s]", `{"tenants":[%s]}`} {
				got, err := decodeTenants([]byte(strings.Replace(wrap, "%s", body, 1)))
				if err != nil {
					t.Fatalf("%s: %v", wrap, err)
				}
				if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
					t.Errorf("%s: got %+v", wrap, got)
				}
			}
		})
	}
}

func TestUserFormsDecodeAlike(t *testing.T) {
	want := wantTenant().Users[0]
	forms := []string{
		`{"id":"42","company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe","user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113Z"}`,
		`{"user":{"id":42,"company_id":1001,"user_email":"jane@example.com","user_name":"jane_doe","user_full_name":"Jane Doe","tenant_id":7,"last_login":"2019-03-01T17:48:51.113+00:00"}}`,
		`{"id":42.0,"company_id":"1001","user_email":"jane@example.com","user_name":"jane_doe","user_full_name":"Jane Doe","tenant_id":"7","last_login":"2019-03-01T17:48:51.113"}`,
	}
	for _, body := range forms {
		got, err := decodeUser([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, *got, want)
		}
		b, _ := json.Marshal(got)
		if string(b) != canonicalUser {
			t.Errorf("canonical form:\n got %s\nwant %s", b, canonicalUser)
		}
	}
}

func TestSparseTenants(t *testing.T) {
	cases := map[string]Tenant{
		`{"id":1}`: {ID: 1},
		`{"id":1,"name":null,"users":null,"cdate":null}`:                                {ID: 1},
		`{"id":"1","description":"","cdate":"","edate":" "}`:                            {ID: 1},
		`{"id":1,"users":[{"id":"9"}]}`:                                                 {ID: 1, Users: []User{{ID: "9"}}},
		`{"id":1,"users":[{"user_email":"a@b.co","last_login":null,"tenant_id":null}]}`: {ID: 1, Users: []User{{Email: "a@b.co"}}},
		`{"id":1,"created_date":"2020-01-02T03:04:05Z","updated_date":"2020-01-02"}`: {
			ID: 1, Created: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), Edited: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)},
	}
	for body, want := range cases {
		got, err := decodeTenant([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", body, *got, want)
		}
	}
	b, _ := json.Marshal(Tenant{ID: 1})
	if string(b) != `{"id":1,"name":"","users":[]}` {
		t.Errorf("sparse canonical form = %s", b)
	}
}

func TestTenantListForms(t *testing.T) {
	for _, body := range []string{`[]`, `null`, `{"tenants":[]}`, `{"tenants":null}`, " [ ] "} {
		got, err := decodeTenants([]byte(body))
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%s: got %#v, %v; want empty non-nil", body, got, err)
		}
	}
	got, err := decodeTenants([]byte(`{"tenants":[{"id":1,"name":"a"},{"id":"2","name":"b"}],"count":2}`))
	if err != nil || len(got) != 2 || got[0].ID != 1 || got[1].ID != 2 {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	tenantBad := []string{
		``, `   `, `"tenant"`, `42`, `[`, `{"id":true}`, `{"id":"seven"}`, `{"id":1.5}`,
		`{"id":99999999999999999999}`, `{"name":3}`, `{"cdate":"yesterday"}`, `{"cdate":12345}`,
		`{"users":{}}`, `{"users":[{"id":[]}]}`, `{"users":[{"last_login":"2019-13-01T00:00:00Z"}]}`,
		`{"tenant":[1]}`, `{"tenant":"x"}`, `null`, `{"cdate":"0000-01-01T00:00:00+01:00"}`,
	}
	for _, body := range tenantBad {
		if got, err := decodeTenant([]byte(body)); err == nil {
			t.Errorf("decodeTenant(%q) = %+v, want an error", body, got)
		}
	}
	listBad := []string{``, `{}`, `{"tenant":{"id":1}}`, `{"id":1}`, `"x"`, `[1]`, `{"tenants":{}}`, `[{"id":"x"}]`}
	for _, body := range listBad {
		if got, err := decodeTenants([]byte(body)); err == nil {
			t.Errorf("decodeTenants(%q) = %+v, want an error", body, got)
		}
	}
	_, err := decodeTenant([]byte(`{"id":1,"cdate":"yesterday","users":[{"tenant_id":true}]}`))
	for _, want := range []string{`"created_date"`, `"cdate"`, `"tenant_id"`, "yesterday"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v should mention %s", err, want)
		}
	}
}

// TestUnmarshalNullIsNoop follows encoding/json's convention for Unmarshalers.
func TestUnmarshalNullIsNoop(t *testing.T) {
	tn := Tenant{ID: 3, Name: "keep"}
	if err := json.Unmarshal([]byte(`null`), &tn); err != nil || tn.ID != 3 || tn.Name != "keep" {
		t.Errorf("tenant after null: %+v, %v", tn, err)
	}
	u := User{ID: "5"}
	if err := json.Unmarshal([]byte(`null`), &u); err != nil || u.ID != "5" {
		t.Errorf("user after null: %+v, %v", u, err)
	}
	// A failed decode leaves the value alone.
	if err := json.Unmarshal([]byte(`{"id":"x","name":"new"}`), &tn); err == nil || tn.Name != "keep" {
		t.Errorf("tenant after failed decode: %+v, %v", tn, err)
	}
}

func TestNonUTCTimesMarshalInUTC(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	tn := Tenant{ID: 1, Created: time.Date(2020, 1, 1, 1, 0, 0, 0, loc)}
	b, _ := json.Marshal(tn)
	if !bytes.Contains(b, []byte(`"created_date":"2020-01-01T00:00:00Z"`)) {
		t.Errorf("got %s", b)
	}
}

// checkStable asserts that a successful decode re-encodes, and that the encoding is a
// fixed point: decoding and encoding it again gives the same bytes.
func checkStable[T any](t *testing.T, v T, decode func([]byte) (T, error)) {
	t.Helper()
	b1, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("decoded value does not encode: %v (%+v)", err, v)
	}
	v2, err := decode(b1)
	if err != nil {
		t.Fatalf("canonical form does not decode: %v\n%s", err, b1)
	}
	b2, err := json.Marshal(v2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("unstable encoding:\n%s\n%s", b1, b2)
	}
}

func fuzzSeeds(f *testing.F) {
	for _, body := range tenantForms {
		f.Add(body)
		f.Add(`{"tenant":` + body + `}`)
		f.Add(`[` + body + `]`)
		f.Add(`{"tenants":[` + body + `,` + body + `]}`)
	}
	for _, s := range []string{`null`, `[]`, `{}`, `{"id":"1e3","company_id":1e3}`, `{"id":-0}`,
		`{"cdate":"9999-12-31T23:59:59.999999999-01:00"}`, `{"users":[null]}`, `{"name":"\xff"}`,
		`{"user":{"id":1}}`, `{"id":"1","last_login":"2019-03-01 17:48:51"}`} {
		f.Add(s)
	}
}

func FuzzDecodeTenant(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body string) {
		tn, err := decodeTenant([]byte(body))
		if err != nil {
			return
		}
		checkStable(t, tn, decodeTenant)
		u, err := decodeUser([]byte(body))
		if err == nil {
			checkStable(t, u, decodeUser)
		}
	})
}

func FuzzDecodeTenants(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body string) {
		ts, err := decodeTenants([]byte(body))
		if err != nil {
			return
		}
		checkStable(t, ts, decodeTenants)
	})
}
