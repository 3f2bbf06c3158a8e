package schema_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gokentik/kentik/internal/schema"
)

// The binary and the JSON form of one image read as the same set, options included.
func TestReadSetForms(t *testing.T) {
	bin, err := schema.LoadSet(testdataImage(t, "binpb"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := schema.LoadSet(testdataImage(t, "json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bin.Files()) != len(js.Files()) || len(bin.Files()) < 8 {
		t.Fatalf("%d files from binary, %d from JSON", len(bin.Files()), len(js.Files()))
	}
	for _, path := range bin.Paths() {
		a, err := bin.JSON(bin.File(path))
		if err != nil {
			t.Fatal(err)
		}
		b, err := js.JSON(js.File(path))
		if err != nil {
			t.Fatal(err)
		}
		if d := schema.Compare(a, b); len(d) > 0 {
			t.Errorf("%s differs between the forms:\n  %s", path, strings.Join(d, "\n  "))
		}
	}
	// Options are decoded as values, not left as unknown bytes.
	shop, err := bin.JSON(bin.File("kentik/shop/v1/shop.proto"))
	if err != nil {
		t.Fatal(err)
	}
	svc := shop["service"].([]any)[0].(map[string]any)
	if got := svc["options"].(map[string]any)["[kentik.core.v202303.visibility]"]; got != "SERVICE_VISIBILITY_PUBLIC" {
		t.Errorf("ShopService visibility = %v", got)
	}
}

// descriptorFile is descriptor.proto as a FileDescriptorProto, for hand-made sets.
func descriptorFile() *descriptorpb.FileDescriptorProto {
	return protodesc.ToFileDescriptorProto(descriptorpb.File_google_protobuf_descriptor_proto)
}

func TestReadSetErrors(t *testing.T) {
	// A message option (field 50000) that no file of the set defines.
	opts := &descriptorpb.MessageOptions{}
	opts.ProtoReflect().SetUnknown([]byte{0x80, 0xb5, 0x18, 0x01}) // field 50000, varint 1
	undefined, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		descriptorFile(),
		{
			Name: proto.String("a.proto"), Syntax: proto.String("proto3"), Dependency: []string{"google/protobuf/descriptor.proto"},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Options: opts}},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	missingDep, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		{Name: proto.String("a.proto"), Syntax: proto.String("proto3"), Dependency: []string{"b.proto"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty", "", "no files"},
		{"no files", `{"file": []}`, "no files"},
		{"not JSON", `{"file": [`, "JSON"},
		{"two documents", `{"file": []} {}`, "after the top-level object"},
		{"binary garbage", "\x0a\xff\xff\xff", "binary"},
		{"undefined option (binary)", string(undefined), "no file of the set defines"},
		{"undefined option (JSON)", `{"file":[{"name":"a.proto","syntax":"proto3","messageType":[{"name":"M","options":{"[x.y]":true}}]}]}`, "x.y"},
		{"missing import", string(missingDep), "b.proto"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := schema.ReadSet([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if _, err := schema.LoadSet("testdata/nonexistent.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadSet of a missing file: %v", err)
	}
}
