package schema_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	corev202303 "github.com/gokentik/kentik/gen/kentik/core/v202303"
	interfacev202108alpha1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"google.golang.org/genproto/googleapis/api/annotations"

	"github.com/gokentik/kentik/internal/schema"
)

// FuzzParseReference: arbitrary input never panics the reader or the comparison, and a
// file compared with itself has no differences.
func FuzzParseReference(f *testing.F) {
	f.Add([]byte(`{"file":[{"name":"a.proto","messageType":[{"name":"M","field":[{"name":"f","number":1}]}]}]}`))
	f.Add([]byte(`{"file":[{"name":"a.proto","service":[{"name":"S","method":[{"name":"M","options":{"[google.api.http]":{"get":"/x"}}}]}]}]}`))
	f.Add([]byte(`{"file":[{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := schema.ParseReference(data)
		if err != nil {
			return
		}
		for name, file := range files {
			if d := schema.Diff(file, file); len(d) != 0 {
				t.Fatalf("%s differs from itself: %v", name, d)
			}
		}
	})
}

// seedSet is a real, self-contained set: InterfaceService's file with everything it
// imports, options and all, as the linked generated packages describe it.
func seedSet(tb testing.TB) *descriptorpb.FileDescriptorSet {
	tb.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(interfacev202108alpha1.File_kentik_interface_v202108alpha1_interface_proto)
	add(corev202303.File_kentik_core_v202303_annotations_proto)
	add(annotations.File_google_api_field_behavior_proto)
	return set
}

// checkSet is what every fuzz target asserts of an input ReadSet accepts: the set
// written back reads again to the same bytes, and selecting and rendering it may fail
// but never panic.
func checkSet(t *testing.T, data []byte) {
	set, err := schema.ReadSet(data)
	if err != nil {
		return
	}
	bin, err := set.Binary()
	if err != nil {
		t.Fatalf("an accepted set does not encode: %v", err)
	}
	again, err := schema.ReadSet(bin)
	if err != nil {
		t.Fatalf("an accepted set, written back, is refused: %v", err)
	}
	if bin2, err := again.Binary(); err != nil || !bytes.Equal(bin, bin2) {
		t.Fatalf("an accepted set changes when read back (err %v)", err)
	}
	for _, f := range set.Files() {
		if _, err := set.JSON(f); err != nil {
			t.Fatalf("an accepted file does not encode as JSON: %v", err)
		}
		_, _ = set.Render(f, "header")
	}
	if sel, err := schema.Select(set, func(string) bool { return true }); err == nil {
		for _, f := range sel.Files {
			_, _ = set.Render(f, "")
		}
	}
}

// FuzzReadSetBinary: arbitrary bytes read as a binary set never panic the reader, and
// an accepted set survives a round trip.
func FuzzReadSetBinary(f *testing.F) {
	seed, err := proto.Marshal(seedSet(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	small, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("a.proto"), Syntax: proto.String("proto3"), Package: proto.String("kentik.a.v1"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("f"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("f"),
		}}}},
	}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add([]byte{})
	f.Fuzz(checkSet)
}

// FuzzReadSetJSON: the same for the JSON form.
func FuzzReadSetJSON(f *testing.F) {
	// The seed's options have to be resolved to be written as JSON: encode, then decode
	// with the linked extensions.
	raw, err := proto.Marshal(seedSet(f))
	if err != nil {
		f.Fatal(err)
	}
	var resolved descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &resolved); err != nil {
		f.Fatal(err)
	}
	seed, err := protojson.Marshal(&resolved)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"file":[{"name":"a.proto","syntax":"proto3","package":"kentik.a.v1","messageType":[{"name":"M","field":[{"name":"f","number":1,"type":"TYPE_STRING","label":"LABEL_OPTIONAL","jsonName":"f"}]}],"bufExtension":{"isImport":false}}]}`))
	f.Add([]byte(`{"file":[{}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(checkSet)
}

// The seeds themselves are accepted sets, so the fuzz targets start from real input.
func TestFuzzSeedsAreAccepted(t *testing.T) {
	raw, err := proto.Marshal(seedSet(t))
	if err != nil {
		t.Fatal(err)
	}
	set, err := schema.ReadSet(raw)
	if err != nil {
		t.Fatal(err)
	}
	if set.File("kentik/interface/v202108alpha1/interface.proto") == nil {
		t.Fatalf("seed set lacks interface.proto: %v", set.Paths())
	}
	text, err := set.Render(set.File("kentik/interface/v202108alpha1/interface.proto"), "")
	if err != nil || !bytes.Contains(text, []byte(`(google.api.http) = {get: "/interface/v202108alpha1/interfaces/{id}"}`)) {
		t.Fatalf("seed set renders badly (err %v):\n%s", err, text)
	}
}
