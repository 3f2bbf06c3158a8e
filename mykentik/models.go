package mykentik

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Tenant is one My Kentik tenant: a slice of your organization's Kentik data shown to a
// customer of yours in the My Kentik Portal.
//
// Kentik's documentation describes this object in two ways that disagree (the example uses
// created_date/updated_date, the field table cdate/edate; ids appear as numbers and as
// strings). UnmarshalJSON accepts every documented form; MarshalJSON always writes one
// canonical form:
//
//	{"id":7,"company_id":"1001","name":"...","description":"...",
//	 "created_date":"2018-10-11T22:52:05.833Z","updated_date":"...","users":[...]}
//
// with timestamps in UTC, RFC 3339, omitted when unknown; users is always an array.
type Tenant struct {
	// ID is Kentik's id for the tenant, used in the other calls.
	ID int64 `json:"id"`
	// CompanyID is Kentik's id for the customer (your organization) owning the tenant.
	CompanyID string `json:"company_id,omitempty"`
	// Name is the tenant's name.
	Name string `json:"name"`
	// Description is the tenant's free-text description.
	Description string `json:"description,omitempty"`
	// Created is when the tenant was created (zero when the server did not say).
	Created time.Time `json:"created_date,omitzero"`
	// Edited is when the tenant was last edited (zero when the server did not say).
	Edited time.Time `json:"updated_date,omitzero"`
	// Users are the users assigned to the tenant.
	Users []User `json:"users"`
}

// User is a user assigned to a tenant. Ids are kept as strings, as the field table
// documents them; numeric ids sent by the server are accepted and turned into their
// decimal text.
//
// MarshalJSON writes the documented names: id, company_id, user_email, user_name,
// user_full_name, tenant_id, last_login (empty fields omitted, id and user_email always
// present).
type User struct {
	// ID is Kentik's id for the user; DeleteTenantUser takes it.
	ID string `json:"id"`
	// CompanyID is Kentik's id for the customer the user belongs to.
	CompanyID string `json:"company_id,omitempty"`
	// Email is the user's email address (user_email on the wire).
	Email string `json:"user_email"`
	// UserName is the user's login name (user_name).
	UserName string `json:"user_name,omitempty"`
	// FullName is the user's full name (user_full_name).
	FullName string `json:"user_full_name,omitempty"`
	// TenantID is the id of the tenant the user is assigned to, as text.
	TenantID string `json:"tenant_id,omitempty"`
	// LastLogin is the user's most recent login (zero when never or unknown).
	LastLogin time.Time `json:"last_login,omitzero"`
}

// MarshalJSON writes the canonical form described on Tenant. It exists so that a tenant
// without users is written with "users":[] rather than null, and so that timestamps are
// always UTC.
func (t Tenant) MarshalJSON() ([]byte, error) {
	type plain Tenant // no methods: avoids recursing into MarshalJSON
	p := plain(t)
	if p.Users == nil {
		p.Users = []User{}
	}
	p.Created = utc(p.Created)
	p.Edited = utc(p.Edited)
	return json.Marshal(p)
}

// MarshalJSON writes the canonical form described on User, with the timestamp in UTC.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	p := plain(u)
	p.LastLogin = utc(p.LastLogin)
	return json.Marshal(p)
}

// UnmarshalJSON is written by hand because the documented wire forms cannot be decoded by
// struct tags alone: the timestamps have two names each (created_date or cdate,
// updated_date or edate), ids come as JSON numbers or strings, and the timestamps come
// with or without fractional seconds and with or without a zone. When both names of a
// timestamp are present, created_date/updated_date win. Null and absent fields leave the
// zero value. Unknown fields are ignored.
func (t *Tenant) UnmarshalJSON(data []byte) error {
	fields, err := objectFields(data, "tenant")
	if err != nil || fields == nil {
		return err // a nil map means JSON null: a no-op, as encoding/json expects
	}
	var out Tenant
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if raw, ok := fields["id"]; ok {
		out.ID, err = decodeInt(raw)
		check(fieldErr("tenant", "id", err))
	}
	check(fieldErr("tenant", "company_id", decodeIDString(fields["company_id"], &out.CompanyID)))
	check(fieldErr("tenant", "name", decodeString(fields["name"], &out.Name)))
	check(fieldErr("tenant", "description", decodeString(fields["description"], &out.Description)))
	out.Created, err = decodeTimeAlias(fields, "created_date", "cdate")
	check(fieldErr("tenant", "created_date", err))
	out.Edited, err = decodeTimeAlias(fields, "updated_date", "edate")
	check(fieldErr("tenant", "updated_date", err))
	if raw, ok := fields["users"]; ok && !isNull(raw) {
		// []User decodes each element through User.UnmarshalJSON.
		check(fieldErr("tenant", "users", json.Unmarshal(raw, &out.Users)))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*t = out
	return nil
}

// UnmarshalJSON is written by hand for the same reasons as Tenant's: ids (id, tenant_id,
// company_id) come as numbers or strings, and last_login in several RFC 3339 variants.
// Null and absent fields leave the zero value.
func (u *User) UnmarshalJSON(data []byte) error {
	fields, err := objectFields(data, "user")
	if err != nil || fields == nil {
		return err
	}
	var out User
	errs := []error{
		fieldErr("user", "id", decodeIDString(fields["id"], &out.ID)),
		fieldErr("user", "company_id", decodeIDString(fields["company_id"], &out.CompanyID)),
		fieldErr("user", "user_email", decodeString(fields["user_email"], &out.Email)),
		fieldErr("user", "user_name", decodeString(fields["user_name"], &out.UserName)),
		fieldErr("user", "user_full_name", decodeString(fields["user_full_name"], &out.FullName)),
		fieldErr("user", "tenant_id", decodeIDString(fields["tenant_id"], &out.TenantID)),
	}
	out.LastLogin, err = decodeTime(fields["last_login"])
	errs = append(errs, fieldErr("user", "last_login", err))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*u = out
	return nil
}

// decodeTenants accepts the Tenant List body in either documented form: a bare JSON array
// of tenants, or an object {"tenants":[...]}. null and {"tenants":null} mean no tenants.
func decodeTenants(data []byte) ([]Tenant, error) {
	data = bytes.TrimSpace(data)
	if isNull(data) {
		return []Tenant{}, nil
	}
	if len(data) > 0 && data[0] == '{' {
		fields, err := objectFields(data, "tenant list")
		if err != nil {
			return nil, err
		}
		raw, ok := fields["tenants"]
		if !ok {
			return nil, errors.New(`tenant list: expected a JSON array or an object with a "tenants" array`)
		}
		data = raw
		if isNull(data) {
			return []Tenant{}, nil
		}
	}
	if len(data) == 0 || data[0] != '[' {
		return nil, fmt.Errorf("tenant list: expected a JSON array, got %s", describeJSON(data))
	}
	var out []Tenant
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []Tenant{}
	}
	return out, nil
}

// decodeTenant accepts a single tenant bare or wrapped as {"tenant":{...}}.
func decodeTenant(data []byte) (*Tenant, error) {
	raw, err := unwrap(data, "tenant")
	if err != nil {
		return nil, err
	}
	var t Tenant
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// decodeUser accepts a single user bare or wrapped as {"user":{...}}.
func decodeUser(data []byte) (*User, error) {
	raw, err := unwrap(data, "user")
	if err != nil {
		return nil, err
	}
	var u User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// unwrap returns the object inside {"<key>":{...}} when data has that shape, and data
// itself otherwise. A bare object never has a member named after its own type, so the
// two forms cannot be confused.
func unwrap(data []byte, key string) ([]byte, error) {
	fields, err := objectFields(data, key)
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, fmt.Errorf("%s: response body is null", key)
	}
	inner, ok := fields[key]
	if !ok {
		return data, nil
	}
	inner = bytes.TrimSpace(inner)
	if len(inner) == 0 || inner[0] != '{' {
		return nil, fmt.Errorf("%s: expected an object in %q, got %s", key, key, describeJSON(inner))
	}
	return inner, nil
}

// objectFields splits a JSON object into its members. null gives a nil map and no error.
func objectFields(data []byte, what string) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty JSON", what)
	}
	if isNull(data) {
		return nil, nil
	}
	if data[0] != '{' {
		return nil, fmt.Errorf("%s: expected a JSON object, got %s", what, describeJSON(data))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return fields, nil
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

func fieldErr(obj, field string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s field %q: %w", obj, field, err)
}

// decodeString reads a JSON string; absent or null leaves dst alone.
func decodeString(raw json.RawMessage, dst *string) error {
	if raw == nil || isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("expected a string, got %s", describeJSON(raw))
	}
	*dst = s
	return nil
}

// decodeIDString reads an id sent as a JSON string or number into its text form. A
// number keeps the digits the server sent (no float rounding of large ids).
func decodeIDString(raw json.RawMessage, dst *string) error {
	if raw == nil || isNull(raw) {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		return decodeString(raw, dst)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("expected a string or number id, got %s", describeJSON(raw))
	}
	*dst = canonicalNumber(n.String())
	return nil
}

// canonicalNumber writes integral numbers such as 7.0 or 1e3 as plain digits, so that the
// same id always reads the same; anything else is kept as sent.
func canonicalNumber(s string) string {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e18 && f < 1e18 && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return s
}

// decodeInt reads a numeric id sent as a JSON number or a string holding one.
func decodeInt(raw json.RawMessage) (int64, error) {
	if raw == nil || isNull(raw) {
		return 0, nil
	}
	var s string
	if err := decodeIDString(raw, &s); err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(canonicalNumber(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected an integer id, got %q", truncate(s, 40))
	}
	return n, nil
}

// decodeTimeAlias reads the first of names that is present and not null or empty.
func decodeTimeAlias(fields map[string]json.RawMessage, names ...string) (time.Time, error) {
	for _, name := range names {
		raw, ok := fields[name]
		if !ok || isNull(raw) || string(bytes.TrimSpace(raw)) == `""` {
			continue
		}
		t, err := decodeTime(raw)
		if err != nil && name != names[0] {
			err = fmt.Errorf("(sent as %q) %w", name, err)
		}
		return t, err
	}
	return time.Time{}, nil
}

// timeLayouts are tried in order. The documentation says "UTC (ISO 8601)" and shows
// 2018-10-11T22:52:05.833Z; servers have also been seen to drop the fraction or the zone
// or to use a space. A time without a zone is taken as UTC, as documented.
var timeLayouts = []struct {
	layout string
	zoned  bool
}{
	{time.RFC3339Nano, true}, // also matches no fraction
	{"2006-01-02T15:04:05.999999999Z0700", true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999Z0700", true},
	{"2006-01-02 15:04:05.999999999 -0700", true},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02", false},
}

// decodeTime reads a timestamp string; absent, null or "" give the zero time. The result
// is in UTC.
func decodeTime(raw json.RawMessage) (time.Time, error) {
	if raw == nil || isNull(raw) {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("expected a timestamp string, got %s", describeJSON(raw))
	}
	return parseTime(s)
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if l.zoned {
			t, err = time.Parse(l.layout, s)
		} else {
			t, err = time.ParseInLocation(l.layout, s, time.UTC)
		}
		if err == nil {
			t = t.UTC()
			if y := t.Year(); y < 1 || y > 9999 {
				return time.Time{}, fmt.Errorf("timestamp %q is out of range", truncate(s, 64))
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognized timestamp %q (want RFC 3339, e.g. 2018-10-11T22:52:05.833Z)", truncate(s, 64))
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// describeJSON names the kind of a JSON value for error messages without echoing it whole.
func describeJSON(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
			return "a number"
		}
	}
	return fmt.Sprintf("%q", truncate(string(raw), 40))
}
