package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// newMessage returns an empty message of md: of its generated type when the program has
// one (protoregistry.GlobalTypes), else a dynamic one.
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// parseRequest reads data, protojson, as a message of md. When protojson refuses it, the
// error is explainJSON's.
func parseRequest(md protoreflect.MessageDescriptor, data []byte) (proto.Message, error) {
	m := newMessage(md)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, m); err != nil {
		return nil, explainJSON(md, data, err)
	}
	return m, nil
}

// requestError is a JSON request that protojson refuses, said in the request's terms:
// the path of the value it refuses (filters.connectivityTypes[0]; "" for the whole
// request) and why.
type requestError struct {
	Path   string
	Reason string
}

func (e *requestError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// maxExplainDepth bounds how deep explainJSON looks into nested messages: each level
// parses the level below it once more.
const maxExplainDepth = 64

// explainJSON says why protojson refused data (perr) as a message of md. protojson's
// errors name a field by its last name only ("invalid value for enum field
// connectivityTypes") and do not list what an enum accepts; their text is not meant to
// be parsed. So the value is narrowed down with protojson itself as the judge: each
// member of an object is parsed alone, and the first one refused is looked into, down to
// the value at fault, which is then described from the schema. What cannot be narrowed
// down is given as protojson said it.
func explainJSON(md protoreflect.MessageDescriptor, data []byte, perr error) error {
	if !utf8.Valid(data) {
		return &requestError{Reason: fmt.Sprintf("not valid UTF-8 (from byte %d)", invalidUTF8At(data))}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return &requestError{Reason: "not valid JSON: " + syntaxError(data, err)}
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return &requestError{Reason: fmt.Sprintf("more than one JSON value (the second at %s): want one object, a %s", position(data, len(data)-len(rest)), md.FullName())}
	}
	if err := explainMessage(md, v, "", 0); err != nil {
		return err
	}
	return &requestError{Reason: cleanProtoError(perr, false)}
}

// explainMessage returns what is wrong with raw as a message of md, or nil when it
// cannot tell.
func explainMessage(md protoreflect.MessageDescriptor, raw json.RawMessage, path string, depth int) error {
	if depth > maxExplainDepth || opaqueWKT(md) {
		return wktError(md, raw, path)
	}
	members, ok := objectMembers(raw)
	if !ok {
		return &requestError{Path: path, Reason: fmt.Sprintf("want a JSON object (a %s), got %s", md.FullName(), jsonKind(raw))}
	}
	fields := md.Fields()
	seen := map[protoreflect.FieldNumber]string{}
	oneofs := map[protoreflect.FullName]string{}
	for _, mb := range members {
		p := joinPath(path, mb.key)
		fd := fields.ByJSONName(mb.key)
		if fd == nil {
			fd = fields.ByTextName(mb.key)
		}
		if fd == nil {
			return unknownField(md, mb.key, path)
		}
		if prev, ok := seen[fd.Number()]; ok {
			return &requestError{Path: p, Reason: fmt.Sprintf("field %s is given twice (as %q and %q)", fd.Name(), prev, mb.key)}
		}
		seen[fd.Number()] = mb.key
		if isNull(mb.value) && !takesNull(fd) {
			continue // null leaves a field unset
		}
		if od := fd.ContainingOneof(); od != nil && !fd.IsList() && !fd.IsMap() {
			if prev, ok := oneofs[od.FullName()]; ok {
				return &requestError{Path: p, Reason: fmt.Sprintf("%s and %s are both set, but they are members of oneof %s: set one of them", prev, mb.key, od.Name())}
			}
			oneofs[od.FullName()] = mb.key
		}
		perr := parseError(md, object(mb.key, mb.value))
		if perr == nil {
			continue
		}
		if err := explainField(md, fd, mb, p, depth); err != nil {
			return err
		}
		// The member alone is refused, but the schema does not tell why.
		return &requestError{Path: p, Reason: cleanProtoError(perr, true)}
	}
	return nil
}

// explainField returns what is wrong with member mb, field fd of md.
func explainField(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, mb member, path string, depth int) error {
	switch {
	case fd.IsList():
		elems, ok := arrayElems(mb.value)
		if !ok {
			return &requestError{Path: path, Reason: fmt.Sprintf("want a JSON array of %s, got %s", kindName(fd), jsonKind(mb.value))}
		}
		for i, e := range elems {
			if !parses(md, object(mb.key, array(e))) {
				return explainSingular(fd, e, fmt.Sprintf("%s[%d]", path, i), depth)
			}
		}
	case fd.IsMap():
		entries, ok := objectMembers(mb.value)
		if !ok {
			return &requestError{Path: path, Reason: fmt.Sprintf("want a JSON object (a map of %s to %s), got %s", kindName(fd.MapKey()), kindName(fd.MapValue()), jsonKind(mb.value))}
		}
		for _, e := range entries {
			p := fmt.Sprintf("%s[%s]", path, strconv.Quote(e.key))
			if parses(md, object(mb.key, object(e.key, e.value))) {
				continue
			}
			if !parses(md, object(mb.key, object(e.key, zeroJSON(fd.MapValue())))) {
				return &requestError{Path: p, Reason: fmt.Sprintf("the key is not %s", kindWant(fd.MapKey().Kind()))}
			}
			return explainSingular(fd.MapValue(), e.value, p, depth)
		}
	default:
		return explainSingular(fd, mb.value, path, depth)
	}
	return nil
}

// explainSingular returns what is wrong with raw as one value of field fd.
func explainSingular(fd protoreflect.FieldDescriptor, raw json.RawMessage, path string, depth int) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return explainMessage(fd.Message(), raw, path, depth+1)
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.FullName() == "google.protobuf.NullValue" {
			return &requestError{Path: path, Reason: "want null"}
		}
		values := enumValueNames(ed)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return &requestError{Path: path, Reason: fmt.Sprintf("%s is not a value of enum %s, which takes %s (or their numbers)", abbreviate(raw), ed.FullName(), values)}
		}
		return &requestError{Path: path, Reason: fmt.Sprintf("want a value of enum %s: %s as a string, or a whole number from -2147483648 to 2147483647; got %s", ed.FullName(), values, abbreviate(raw))}
	}
	return &requestError{Path: path, Reason: fmt.Sprintf("want %s, got %s", kindWant(fd.Kind()), abbreviate(raw))}
}

// unknownField says that md has no field called key, and which fields it has.
func unknownField(md protoreflect.MessageDescriptor, key, path string) error {
	fields := md.Fields()
	if fields.Len() == 0 {
		return &requestError{Path: joinPath(path, key), Reason: fmt.Sprintf("no such field: %s has no fields (give {})", md.FullName())}
	}
	names := make([]string, 0, fields.Len())
	var near []string
	k := strings.ToLower(strings.ReplaceAll(key, "_", ""))
	for i := range fields.Len() {
		fd := fields.Get(i)
		names = append(names, fd.JSONName())
		if jn := strings.ToLower(fd.JSONName()); abs(len(jn)-len(k)) <= 2 && editDistance(k, jn) <= 2 {
			near = append(near, fd.JSONName())
		}
	}
	reason := fmt.Sprintf("no such field in %s, which has %s", md.FullName(), listNames(names))
	if len(near) > 0 {
		reason += "; did you mean " + joinOr(near) + "?"
	}
	return &requestError{Path: joinPath(path, key), Reason: reason}
}

// wktError reports raw as refused by protojson as a message of md (a well-known type
// with a JSON form of its own, such as google.protobuf.Timestamp), in protojson's words
// and, for the common ones, with what it takes.
func wktError(md protoreflect.MessageDescriptor, raw json.RawMessage, path string) error {
	err := (protojson.UnmarshalOptions{}).Unmarshal(raw, newMessage(md))
	if err == nil {
		return nil
	}
	want := ""
	if j := wktJSON[md.FullName()]; j != "" {
		want = " (" + j + ")"
	}
	return &requestError{Path: path, Reason: fmt.Sprintf("not a %s%s: %s", md.FullName(), want, cleanProtoError(err, true))}
}

// opaqueWKT reports whether md is a well-known type whose JSON form is not an object
// of its fields: one of wktJSON's (google.protobuf.Empty is an ordinary object).
func opaqueWKT(md protoreflect.MessageDescriptor) bool {
	_, ok := wktJSON[md.FullName()]
	return ok
}

// takesNull reports whether null is a value of fd rather than "unset" (protojson reads
// null as a value for google.protobuf.Value and NullValue only).
func takesNull(fd protoreflect.FieldDescriptor) bool {
	if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value" {
		return true
	}
	return fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue"
}

// parseError returns protojson's error for data as a message of md, nil if it accepts it.
func parseError(md protoreflect.MessageDescriptor, data []byte) error {
	return (protojson.UnmarshalOptions{}).Unmarshal(data, newMessage(md))
}

// parses reports whether protojson accepts data as a message of md.
func parses(md protoreflect.MessageDescriptor, data []byte) bool { return parseError(md, data) == nil }

type member struct {
	key   string
	value json.RawMessage
}

// objectMembers returns the members of a JSON object in order, duplicates included;
// ok is false when raw is not an object.
func objectMembers(raw json.RawMessage) (ms []member, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		key, isKey := t.(string)
		if err != nil || !isKey {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		ms = append(ms, member{key, v})
	}
	return ms, true
}

// arrayElems returns the elements of a JSON array; ok is false when raw is not one.
func arrayElems(raw json.RawMessage) (es []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, false
	}
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		es = append(es, v)
	}
	return es, true
}

// object returns the JSON object {key: value}.
func object(key string, value []byte) []byte {
	k, _ := json.Marshal(key) // a string always marshals
	b := make([]byte, 0, len(k)+len(value)+3)
	b = append(b, '{')
	b = append(b, k...)
	b = append(b, ':')
	b = append(b, value...)
	return append(b, '}')
}

// array returns the JSON array [value].
func array(value []byte) []byte {
	return append(append([]byte{'['}, value...), ']')
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// zeroJSON returns a JSON value that protojson accepts for fd.
func zeroJSON(fd protoreflect.FieldDescriptor) []byte {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if !opaqueWKT(md) {
			return []byte("{}")
		}
		switch md.Name() {
		case "Timestamp":
			return []byte(`"1970-01-01T00:00:00Z"`)
		case "Duration":
			return []byte(`"0s"`)
		case "FieldMask", "StringValue", "BytesValue":
			return []byte(`""`)
		case "BoolValue":
			return []byte("false")
		case "Value":
			return []byte("null")
		case "ListValue":
			return []byte("[]")
		case "Any", "Struct":
			return []byte("{}")
		}
		return []byte("0")
	case protoreflect.StringKind, protoreflect.BytesKind:
		return []byte(`""`)
	case protoreflect.BoolKind:
		return []byte("false")
	}
	return []byte("0")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonKind names the kind of a JSON value: "an object", "a string", ...
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string " + abbreviate(raw)
	case 't', 'f':
		return string(t)
	case 'n':
		return "null"
	}
	return "the number " + abbreviate(raw)
}

// abbreviate returns raw cut to a length fit for a message.
func abbreviate(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return s
}

// kindName names what a field holds: "ConnectivityType values", "strings", ...
func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// kindWant says what JSON protojson takes for a scalar kind.
func kindWant(k protoreflect.Kind) string {
	switch k {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "base64 in a string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "a whole number from -2147483648 to 2147483647 (a number or a string)"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "a whole number from 0 to 4294967295 (a number or a string)"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "a whole number from -9223372036854775808 to 9223372036854775807 (a string or a number)"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a whole number from 0 to 18446744073709551615 (a string or a number)"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return `a number, or "NaN", "Infinity" or "-Infinity"`
	}
	return "a " + k.String()
}

// enumValueNames lists an enum's value names for a message.
func enumValueNames(ed protoreflect.EnumDescriptor) string {
	names := make([]string, ed.Values().Len())
	for i := range names {
		names[i] = string(ed.Values().Get(i).Name())
	}
	return listNames(names)
}

// listNames joins names as English does, at most 40 of them.
func listNames(names []string) string {
	if len(names) > 40 {
		return strings.Join(names[:40], ", ") + fmt.Sprintf(" and %d more", len(names)-40)
	}
	return joinAnd(names)
}

// protoErrorPosition matches the position protojson puts in its errors.
var protoErrorPosition = regexp.MustCompile(`\(line \d+:\d+\):?\s*`)

// cleanProtoError returns a protojson error's text without its "proto:" prefix (which
// protojson spells with a space or a no-break space, at random) and, when the position is
// meaningless to the user (noPosition: a value parsed alone), without its position.
func cleanProtoError(err error, noPosition bool) string {
	s := strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
	if noPosition {
		s = protoErrorPosition.ReplaceAllString(s, "")
	}
	return s
}

// syntaxError describes an encoding/json decoding error of data with its line and
// column.
func syntaxError(data []byte, err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s: %s", position(data, int(se.Offset)-1), se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends before its value does"
	}
	return err.Error()
}

// position returns "line L, column C" (1-based, columns in characters) of a byte offset.
func position(data []byte, off int) string {
	off = max(0, min(off, len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := 1 + utf8.RuneCount(data[bytes.LastIndexByte(data[:off], '\n')+1:off])
	return fmt.Sprintf("line %d, column %d", line, col)
}

// invalidUTF8At returns the offset of the first byte of data that is not valid UTF-8.
func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}
