package cli

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
)

var (
	testReqOnce sync.Once
	testReq     protoreflect.MessageDescriptor
)

// testRequest returns a message that has a field of every shape a request can have:
// each scalar kind, an enum, lists, maps, a oneof, nested and recursive messages, a
// proto3 optional and well-known types. It is built here and registered nowhere.
//
//	message Req {
//	  string s = 1; int32 i32 = 2; int64 i64 = 3; uint32 u32 = 4; double d = 5;
//	  bool b = 6; bytes by = 7; Color color = 8; repeated Color colors = 9;
//	  repeated int32 nums = 10; Sub sub = 11; repeated Sub subs = 12;
//	  map<string, Sub> subm = 13; map<int32, string> im = 14;
//	  oneof choice { string x = 15; Sub y = 16; }
//	  google.protobuf.Timestamp ts = 17; google.protobuf.Value v = 18;
//	  optional string opt = 19; float f = 20; map<string, Color> cm = 21;
//	  google.protobuf.Empty e = 22; map<int32, google.protobuf.Timestamp> tsm = 23;
//	}
//	message Sub { string name = 1; Color c = 2; Sub next = 3; }
//	enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
func testRequest(t testing.TB) protoreflect.MessageDescriptor {
	testReqOnce.Do(func() {
		type T = descriptorpb.FieldDescriptorProto_Type
		const (
			opt = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
			rep = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		)
		field := func(name string, n int32, typ T, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
			f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(jsonCamel(name))}
			if typeName != "" {
				f.TypeName = proto.String(typeName)
			}
			return f
		}
		entry := func(name string, key T, value T, valueType string) *descriptorpb.DescriptorProto {
			return &descriptorpb.DescriptorProto{
				Name:    proto.String(name),
				Field:   []*descriptorpb.FieldDescriptorProto{field("key", 1, key, opt, ""), field("value", 2, value, opt, valueType)},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			}
		}
		const (
			str  = descriptorpb.FieldDescriptorProto_TYPE_STRING
			msg  = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
			enum = descriptorpb.FieldDescriptorProto_TYPE_ENUM
			i32  = descriptorpb.FieldDescriptorProto_TYPE_INT32
		)
		x, y := field("x", 15, str, opt, ""), field("y", 16, msg, opt, ".clitest.Sub")
		x.OneofIndex, y.OneofIndex = proto.Int32(0), proto.Int32(0)
		o := field("opt", 19, str, opt, "")
		o.OneofIndex, o.Proto3Optional = proto.Int32(1), proto.Bool(true)
		fd := &descriptorpb.FileDescriptorProto{
			Name:       proto.String("clitest/req.proto"),
			Package:    proto.String("clitest"),
			Syntax:     proto.String("proto3"),
			Dependency: []string{"google/protobuf/timestamp.proto", "google/protobuf/struct.proto", "google/protobuf/empty.proto"},
			EnumType: []*descriptorpb.EnumDescriptorProto{{
				Name: proto.String("Color"),
				Value: []*descriptorpb.EnumValueDescriptorProto{
					{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
					{Name: proto.String("RED"), Number: proto.Int32(1)},
					{Name: proto.String("GREEN"), Number: proto.Int32(2)},
				},
			}},
			MessageType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("Sub"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("name", 1, str, opt, ""), field("c", 2, enum, opt, ".clitest.Color"), field("next", 3, msg, opt, ".clitest.Sub"),
				},
			}, {
				Name: proto.String("Req"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("s", 1, str, opt, ""),
					field("i32", 2, i32, opt, ""),
					field("i64", 3, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
					field("u32", 4, descriptorpb.FieldDescriptorProto_TYPE_UINT32, opt, ""),
					field("d", 5, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, ""),
					field("b", 6, descriptorpb.FieldDescriptorProto_TYPE_BOOL, opt, ""),
					field("by", 7, descriptorpb.FieldDescriptorProto_TYPE_BYTES, opt, ""),
					field("color", 8, enum, opt, ".clitest.Color"),
					field("colors", 9, enum, rep, ".clitest.Color"),
					field("nums", 10, i32, rep, ""),
					field("sub", 11, msg, opt, ".clitest.Sub"),
					field("subs", 12, msg, rep, ".clitest.Sub"),
					field("subm", 13, msg, rep, ".clitest.Req.SubmEntry"),
					field("im", 14, msg, rep, ".clitest.Req.ImEntry"),
					x, y,
					field("ts", 17, msg, opt, ".google.protobuf.Timestamp"),
					field("v", 18, msg, opt, ".google.protobuf.Value"),
					o,
					field("f", 20, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, opt, ""),
					field("cm", 21, msg, rep, ".clitest.Req.CmEntry"),
					field("e", 22, msg, opt, ".google.protobuf.Empty"),
					field("tsm", 23, msg, rep, ".clitest.Req.TsmEntry"),
				},
				NestedType: []*descriptorpb.DescriptorProto{
					entry("SubmEntry", str, msg, ".clitest.Sub"),
					entry("ImEntry", i32, str, ""),
					entry("CmEntry", str, enum, ".clitest.Color"),
					entry("TsmEntry", i32, msg, ".google.protobuf.Timestamp"),
				},
				OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_opt")}},
			}},
		}
		f, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		testReq = f.Messages().ByName("Req")
	})
	if testReq == nil {
		t.Fatal("no test descriptor")
	}
	return testReq
}

// explainOf parses data as a Req and returns explainJSON's error ("" when protojson
// accepts data).
func explainOf(t testing.TB, data string) string {
	md := testRequest(t)
	err := protojson.Unmarshal([]byte(data), dynamicpb.NewMessage(md))
	if err == nil {
		return ""
	}
	return explainJSON(md, []byte(data), err).Error()
}

// Each kind of mistake is named by the path of the value at fault and what that value
// should be.
func TestExplainJSON(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{`{"s": 1}`, "s: want a string, got 1"},
		{`{"i32": 2147483648}`, "i32: want a whole number from -2147483648 to 2147483647 (a number or a string), got 2147483648"},
		{`{"i64": 1.5}`, "i64: want a whole number from -9223372036854775808 to 9223372036854775807 (a string or a number), got 1.5"},
		{`{"u32": -1}`, "u32: want a whole number from 0 to 4294967295 (a number or a string), got -1"},
		{`{"d": "x"}`, `d: want a number, or "NaN", "Infinity" or "-Infinity", got "x"`},
		{`{"b": "true"}`, `b: want true or false, got "true"`},
		{`{"by": "!!"}`, `by: want base64 in a string, got "!!"`},
		{`{"color": "BLUE"}`, `color: "BLUE" is not a value of enum clitest.Color, which takes COLOR_UNSPECIFIED, RED and GREEN (or their numbers)`},
		{`{"color": true}`, `color: want a value of enum clitest.Color: COLOR_UNSPECIFIED, RED and GREEN as a string, or a whole number from -2147483648 to 2147483647; got true`},
		{`{"colors": ["RED", "red"]}`, `colors[1]: "red" is not a value of enum clitest.Color`},
		{`{"colors": "RED"}`, `colors: want a JSON array of clitest.Color, got a string "RED"`},
		{`{"nums": [1, 2, {}]}`, `nums[2]: want a whole number`},
		{`{"sub": {"next": {"next": {"c": "PINK"}}}}`, `sub.next.next.c: "PINK" is not a value of enum clitest.Color`},
		{`{"subs": [{}, {"nam": "a"}]}`, `subs[1].nam: no such field in clitest.Sub, which has name, c and next; did you mean name?`},
		{`{"subm": {"a": {"name": 3}}}`, `subm["a"].name: want a string, got 3`},
		{`{"subm": []}`, `subm: want a JSON object (a map of string to clitest.Sub), got an array`},
		{`{"im": {"x": "a"}}`, `im["x"]: the key is not a whole number from -2147483648 to 2147483647`},
		{`{"tsm": {"1": "now"}}`, `tsm["1"]: not a google.protobuf.Timestamp`},
		{`{"tsm": {"one": "2024-01-01T00:00:00Z"}}`, `tsm["one"]: the key is not a whole number`},
		{`{"cm": {"k": "BLUE"}}`, `cm["k"]: "BLUE" is not a value of enum clitest.Color`},
		{`{"x": "a", "y": {}}`, `y: x and y are both set, but they are members of oneof choice: set one of them`},
		{`{"ts": "yesterday"}`, `ts: not a google.protobuf.Timestamp (an RFC 3339 time in a string, e.g. "2024-05-01T12:00:00Z"): `},
		{`{"e": {"a": 1}}`, `e.a: no such field: google.protobuf.Empty has no fields (give {})`},
		{`{"opt": false}`, `opt: want a string, got false`},
		{`{"s": "a", "s": "b"}`, `s: field s is given twice (as "s" and "s")`},
		{`{"i32": 1, "i_32": 2}`, `i_32: no such field in clitest.Req`},
		{`{"sub": 5}`, `sub: want a JSON object (a clitest.Sub), got the number 5`},
		{`{"s": "` + "\xff" + `"}`, `not valid UTF-8 (from byte 7)`},
		{"{\n\"s\": \"a\",\n}", `not valid JSON: line 3, column 1: invalid character '}'`},
		{`{"s": "a"`, `not valid JSON: it ends before its value does`},
		{``, `not valid JSON: it ends before its value does`},
		{`{} []`, `more than one JSON value (the second at line 1, column 4)`},
		{`"s"`, `want a JSON object (a clitest.Req), got a string "s"`},
	} {
		got := explainOf(t, tc.data)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.data, got, tc.want)
		}
	}
	// What protojson accepts needs no explaining: null leaves fields (a oneof's too) unset.
	for _, ok := range []string{`{"x": null, "y": {}}`, `{"v": null}`, `{"subs": null, "sub": null}`, `{"opt": "", "i32": "7", "i64": 7}`, `{"f": "NaN"}`} {
		if got := explainOf(t, ok); got != "" {
			t.Errorf("%s: refused: %s", ok, got)
		}
	}
}

// A request error is typed, with the path apart.
func TestExplainJSONTyped(t *testing.T) {
	md := testRequest(t)
	data := []byte(`{"subs": [{"c": "X"}]}`)
	err := explainJSON(md, data, protojson.Unmarshal(data, dynamicpb.NewMessage(md)))
	var re *requestError
	if !errors.As(err, &re) || re.Path != "subs[0].c" {
		t.Fatalf("%#v", err)
	}
}

// FuzzExplainJSON: explainJSON never panics, explains every refusal, and blames
// nothing protojson accepts.
func FuzzExplainJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"s": 1}`, `{"colors": ["RED", "red"]}`, `{"subm": {"a": {"name": 3}}}`, `{"im": {"1": "a", "x": "b"}}`,
		`{"x": "a", "y": {}}`, `{"x": null, "y": {"next": {"c": 2}}}`, `{"ts": "2024-01-01T00:00:00Z", "v": {"a": [1, null]}}`,
		`{"opt": "a", "cm": {"k": "GREEN"}, "e": {}, "tsm": {"-1": "2024-01-01T00:00:00.5Z"}}`, `{"sub": {"next": {"next": {"next": {}}}}}`, `{"by": "AAEC", "d": "-Infinity"}`,
		`{"s": "a", "s": "b"}`, `{} {}`, `[1]`, `{"i64": "9223372036854775808"}`, `{"u32": 1e3}`, `{"s": "\ud800"}`,
	} {
		f.Add(s)
	}
	md := testRequest(f)
	f.Fuzz(func(t *testing.T, data string) {
		err := protojson.Unmarshal([]byte(data), dynamicpb.NewMessage(md))
		if err == nil {
			if e := explainMessage(md, []byte(data), "", 0); e != nil {
				t.Fatalf("%q is accepted by protojson, but blamed: %v", data, e)
			}
			return
		}
		e := explainJSON(md, []byte(data), err)
		if e == nil || e.Error() == "" {
			t.Fatalf("%q: refused (%v) but not explained", data, err)
		}
	})
}
