package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// interfaceDesc describes the Interface message: the field names --set takes and the
// fields an update compares.
var interfaceDesc = (&ifacev1.Interface{}).ProtoReflect().Descriptor()

// serverFields are the Interface fields Kentik maintains itself: an update neither sets
// them with --set nor counts them as cleared by a file that leaves them out.
var serverFields = map[protoreflect.Name]bool{"id": true, "cdate": true, "edate": true}

// interfaceField finds a field of Interface by its name in the schema (snake_case,
// connectivity_type) or in Kentik's JSON (camelCase, connectivityType).
func interfaceField(name string) protoreflect.FieldDescriptor {
	fields := interfaceDesc.Fields()
	if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return fields.ByJSONName(name)
}

// settableFields lists the fields --set takes: single values Kentik does not maintain.
func settableFields() []string {
	var names []string
	fields := interfaceDesc.Fields()
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); settable(fd) {
			names = append(names, string(fd.Name()))
		}
	}
	return names
}

func settable(fd protoreflect.FieldDescriptor) bool {
	return !serverFields[fd.Name()] && !fd.IsList() && !fd.IsMap() && fd.Kind() != protoreflect.MessageKind
}

// parseEnumValue reads one value of enum ed leniently: the enums that have a parser in
// package enums accept its spellings ("transit", "paid-pni", any case, with or without
// the prefix); any other enum its value names exactly. A bad value's error lists the
// accepted ones.
func parseEnumValue(ed protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, error) {
	switch ed.FullName() {
	case ifacev1.ConnectivityType(0).Descriptor().FullName():
		v, err := enums.ParseConnectivityType(s)
		return protoreflect.EnumNumber(v), err
	case ifacev1.NetworkBoundary(0).Descriptor().FullName():
		v, err := enums.ParseNetworkBoundary(s)
		return protoreflect.EnumNumber(v), err
	case ifacev1.IpFilter(0).Descriptor().FullName():
		v, err := enums.ParseIPFilter(s)
		return protoreflect.EnumNumber(v), err
	}
	if v := ed.Values().ByName(protoreflect.Name(strings.TrimSpace(s))); v != nil {
		return v.Number(), nil
	}
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return 0, fmt.Errorf("unknown %s %q (want one of: %s)", ed.Name(), s, strings.Join(names, ", "))
}

// enumNames lists the short names of enum ed's values, as completion offers them.
func enumNames(ed protoreflect.EnumDescriptor) []string {
	switch ed.FullName() {
	case ifacev1.ConnectivityType(0).Descriptor().FullName():
		return enums.ConnectivityTypeNames()
	case ifacev1.NetworkBoundary(0).Descriptor().FullName():
		return enums.NetworkBoundaryNames()
	case ifacev1.IpFilter(0).Descriptor().FullName():
		return enums.IPFilterNames()
	}
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return names
}

// setField applies one --set assignment, FIELD=VALUE, to m.
func setField(m *ifacev1.Interface, assignment string) (protoreflect.FieldDescriptor, error) {
	name, value, ok := strings.Cut(assignment, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return nil, usagef("--set %q: want FIELD=VALUE, e.g. provider=Zayo or connectivity_type=transit", assignment)
	}
	fd := interfaceField(name)
	switch {
	case fd == nil:
		return nil, usagef("--set %s: Interface has no such field (fields: %s)", name, strings.Join(settableFields(), ", "))
	case serverFields[fd.Name()]:
		return nil, usagef("--set %s: Kentik maintains %s itself", name, fd.Name())
	case !settable(fd):
		return nil, usagef("--set %s: %s is not a single value; change it with --file", name, fd.Name())
	}
	v, err := scalarValue(fd, value)
	if err != nil {
		return nil, usagef("--set %s=%s: %v", name, value, err)
	}
	m.ProtoReflect().Set(fd, v)
	return fd, nil
}

// scalarValue reads s as a value of the singular, non-message field fd. An empty value
// (blanks only, for a field that is not a string) is the field's zero value, which
// clears it.
func scalarValue(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	t := strings.TrimSpace(s)
	if t == "" && fd.Kind() != protoreflect.StringKind {
		return fd.Default(), nil
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.EnumKind:
		n, err := parseEnumValue(fd.Enum(), s)
		return protoreflect.ValueOfEnum(n), err
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return protoreflect.Value{}, errors.New("want true or false")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(t, 10, 32)
		if err != nil {
			return protoreflect.Value{}, errors.New("want a whole number")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return protoreflect.Value{}, errors.New("want a whole number")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(t, 10, 32)
		if err != nil {
			return protoreflect.Value{}, errors.New("want a whole number, 0 or more")
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return protoreflect.Value{}, errors.New("want a whole number, 0 or more")
		}
		return protoreflect.ValueOfUint64(n), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return protoreflect.Value{}, errors.New("want a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	}
	return protoreflect.Value{}, fmt.Errorf("a %s field cannot be set from text", fd.Kind())
}

// fieldChange is one field an update changes.
type fieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// changedFields lists the fields whose values differ between before and after, in
// schema order, with the values as the command shows them.
func changedFields(before, after *ifacev1.Interface) []fieldChange {
	var out []fieldChange
	b, a := before.ProtoReflect(), after.ProtoReflect()
	fields := interfaceDesc.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if serverFields[fd.Name()] || fieldEqual(b, a, fd) {
			continue
		}
		out = append(out, fieldChange{Field: string(fd.Name()), Old: showField(b, fd), New: showField(a, fd)})
	}
	return out
}

// clearedFields lists the fields that current has and next would leave empty, apart
// from those Kentik maintains.
func clearedFields(current, next *ifacev1.Interface) []string {
	var out []string
	c, n := current.ProtoReflect(), next.ProtoReflect()
	fields := interfaceDesc.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !serverFields[fd.Name()] && c.Has(fd) && !n.Has(fd) {
			out = append(out, string(fd.Name()))
		}
	}
	return out
}

// fieldEqual compares one field of a and b, whatever its kind, by comparing two
// messages that hold only that field.
func fieldEqual(a, b protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	return proto.Equal(only(a, fd), only(b, fd))
}

func only(m protoreflect.Message, fd protoreflect.FieldDescriptor) proto.Message {
	x := m.New()
	if m.Has(fd) {
		x.Set(fd, m.Get(fd))
	}
	return x.Interface()
}

// showField renders one field's value for a person: strings quoted, enums by their
// short names, anything else as Kentik's JSON shows it; an unset field as "(empty)".
func showField(m protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	if !m.Has(fd) {
		return "(empty)"
	}
	v := m.Get(fd)
	switch {
	case fd.IsList() || fd.IsMap() || fd.Kind() == protoreflect.MessageKind:
		raw, err := protojson.Marshal(only(m, fd))
		if err != nil {
			return "?"
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return string(raw)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, obj[fd.JSONName()]) != nil {
			return string(raw)
		}
		return compact.String()
	case fd.Kind() == protoreflect.StringKind:
		return strconv.Quote(v.String())
	case fd.Kind() == protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return strings.ToLower(strings.TrimPrefix(string(ev.Name()), enumPrefix(fd.Enum())))
		}
		return strconv.Itoa(int(v.Enum()))
	}
	return fmt.Sprint(v.Interface())
}

// enumPrefix is the prefix every value name of ed carries, by Buf's convention the
// enum's name in upper snake case ("CONNECTIVITY_TYPE_").
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	var b strings.Builder
	for i, r := range string(ed.Name()) {
		if i > 0 && 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String()) + "_"
}

// lenientEnums rewrites the enum values of a JSON object of message md, at any depth,
// to the names protojson takes, accepting every spelling parseEnumValue accepts:
// {"connectivityType":"paid-pni"} becomes {"connectivityType":"CONNECTIVITY_TYPE_PAID_PNI"}.
// Everything else is copied as it is, in order, for protojson to judge (unknown or
// repeated fields included). Input that is not a JSON object is returned unchanged,
// for protojson's own error; a bad enum value is an error naming the field and listing
// the accepted values.
func lenientEnums(md protoreflect.MessageDescriptor, data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return data, nil
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return data, nil
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return data, nil
		}
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(key))
		}
		if fd != nil {
			if raw, err = lenientValue(fd, raw); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		if i > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(raw)
	}
	if _, err := dec.Token(); err != nil {
		return data, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return data, nil // more after the object: protojson says what
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// lenientValue rewrites the enum names in one field's JSON value.
func lenientValue(fd protoreflect.FieldDescriptor, raw json.RawMessage) (json.RawMessage, error) {
	switch {
	case fd.IsMap():
		return raw, nil
	case fd.IsList():
		if fd.Kind() != protoreflect.EnumKind && !isObjectMessage(fd) {
			return raw, nil
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return raw, nil
		}
		for i, it := range items {
			v, err := lenientSingle(fd, it)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			items[i] = v
		}
		return json.Marshal(items)
	}
	return lenientSingle(fd, raw)
}

func lenientSingle(fd protoreflect.FieldDescriptor, raw json.RawMessage) (json.RawMessage, error) {
	switch {
	case fd.Kind() == protoreflect.EnumKind:
		var s string
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &s) != nil {
			return raw, nil // a number, or null: protojson takes those
		}
		n, err := parseEnumValue(fd.Enum(), s)
		if err != nil {
			return nil, err
		}
		ev := fd.Enum().Values().ByNumber(n)
		if ev == nil {
			return raw, nil
		}
		return json.Marshal(string(ev.Name()))
	case isObjectMessage(fd):
		return lenientEnums(fd.Message(), raw)
	}
	return raw, nil
}

// isObjectMessage reports whether fd holds a message written as a JSON object: not one
// of the well-known types with a JSON form of their own (Timestamp, Duration, ...).
func isObjectMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind && !opaqueWKT(fd.Message())
}
