package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Set is a FileDescriptorSet whose options are decoded with the option extensions the set
// itself defines, so the options of Kentik's files read as values (a visibility, an HTTP
// rule) whatever this program links.
type Set struct {
	files    []*descriptorpb.FileDescriptorProto
	byPath   map[string]*descriptorpb.FileDescriptorProto
	registry *protoregistry.Files
	types    *dynamicpb.Types

	symbolsOnce sync.Once
	syms        map[string]symbolKind // see symbols
}

// LoadSet reads a FileDescriptorSet from a file, in binary or JSON form (see [ReadSet]).
func LoadSet(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read descriptor set: %w", err)
	}
	set, err := ReadSet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}

// ReadSet decodes a FileDescriptorSet in binary form or in protobuf's JSON form: what
// `buf build -o image.binpb` and `buf build -o image.json` write, or protoc's
// --descriptor_set_out. A buf image's own per-file extension (buf's bookkeeping) is
// dropped. The set must be self-contained: every import and every option extension a
// file uses must be defined by a file of the set.
func ReadSet(data []byte) (*Set, error) {
	if isJSON(data) {
		return readJSON(data)
	}
	return readBinary(data)
}

// isJSON tells the two forms apart by the first byte that is not white space: '{' opens
// a JSON object, and never starts a binary set (it would be field 15 as a group).
func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// readJSON decodes in two passes. protojson can only decode an option extension it can
// resolve, and here the extensions are defined by the set being read: the first pass
// skips them to learn the set's types, the second decodes everything with those types
// and fails on anything it cannot resolve.
func readJSON(data []byte) (*Set, error) {
	stripped, err := stripBufExtension(data)
	if err != nil {
		return nil, err
	}
	var shape descriptorpb.FileDescriptorSet
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(stripped, &shape); err != nil {
		return nil, fmt.Errorf("decode descriptor set (JSON): %w", err)
	}
	set, err := newSet(&shape)
	if err != nil {
		return nil, err
	}
	var full descriptorpb.FileDescriptorSet
	if err := (protojson.UnmarshalOptions{Resolver: set.types}).Unmarshal(stripped, &full); err != nil {
		return nil, fmt.Errorf("decode descriptor set (JSON): %w", err)
	}
	return set.withFiles(full.GetFile())
}

// stripBufExtension removes the "bufExtension" member buf writes into each file of a JSON
// image; it is not part of FileDescriptorProto.
func stripBufExtension(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers go back out exactly as they came in
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("decode descriptor set (JSON): %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode descriptor set (JSON): data after the top-level object")
	}
	if files, ok := top["file"].([]any); ok {
		for _, f := range files {
			if obj, ok := f.(map[string]any); ok {
				delete(obj, "bufExtension")
			}
		}
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("decode descriptor set (JSON): %w", err)
	}
	return out, nil
}

// readBinary decodes without a resolver first, so every option extension stays in the
// options' unknown fields, then decodes the options again with the set's own types.
func readBinary(data []byte) (*Set, error) {
	var shape descriptorpb.FileDescriptorSet
	if err := (proto.UnmarshalOptions{Resolver: (*protoregistry.Types)(nil)}).Unmarshal(data, &shape); err != nil {
		return nil, fmt.Errorf("decode descriptor set (binary): %w", err)
	}
	for _, f := range shape.GetFile() {
		f.ProtoReflect().SetUnknown(nil) // buf's per-file extension (field 8042)
	}
	set, err := newSet(&shape)
	if err != nil {
		return nil, err
	}
	raw, err := proto.Marshal(&shape)
	if err != nil {
		return nil, fmt.Errorf("decode descriptor set (binary): %w", err)
	}
	var full descriptorpb.FileDescriptorSet
	if err := (proto.UnmarshalOptions{Resolver: set.types}).Unmarshal(raw, &full); err != nil {
		return nil, fmt.Errorf("decode descriptor set (binary): %w", err)
	}
	return set.withFiles(full.GetFile())
}

// newSet builds the registry and the option types of a set whose options are not decoded.
func newSet(shape *descriptorpb.FileDescriptorSet) (*Set, error) {
	if len(shape.GetFile()) == 0 {
		return nil, errors.New("descriptor set has no files")
	}
	registry, err := protodesc.NewFiles(shape)
	if err != nil {
		return nil, fmt.Errorf("descriptor set: %w", err)
	}
	return &Set{registry: registry, types: dynamicpb.NewTypes(registry)}, nil
}

// withFiles takes the decoded files, after checking no option was left undecoded.
func (s *Set) withFiles(files []*descriptorpb.FileDescriptorProto) (*Set, error) {
	s.files = files
	s.byPath = make(map[string]*descriptorpb.FileDescriptorProto, len(files))
	for _, f := range files {
		if err := checkOptionsDecoded(f.GetName(), f.ProtoReflect()); err != nil {
			return nil, err
		}
		s.byPath[f.GetName()] = f
	}
	return s, nil
}

// checkOptionsDecoded fails when an options message anywhere in m still holds unknown
// fields: an option whose extension the set does not define.
func checkOptionsDecoded(file string, m protoreflect.Message) error {
	var err error
	eachOptions(m, func(_, opts protoreflect.Message) {
		if u := opts.GetUnknown(); err == nil && len(u) > 0 {
			err = fmt.Errorf("%s: a %s holds %d bytes of options that no file of the set defines", file, opts.Descriptor().Name(), len(u))
		}
	})
	return err
}

// isOptions reports whether md is one of descriptor.proto's options messages.
func isOptions(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Path() == "google/protobuf/descriptor.proto" && strings.HasSuffix(string(md.Name()), "Options")
}

// Files returns the set's files in the order of the input.
func (s *Set) Files() []*descriptorpb.FileDescriptorProto { return s.files }

// File returns the file of the given path, or nil.
func (s *Set) File(path string) *descriptorpb.FileDescriptorProto { return s.byPath[path] }

// Paths returns the paths of the set's files, sorted.
func (s *Set) Paths() []string {
	paths := make([]string, 0, len(s.byPath))
	for p := range s.byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// Descriptor finds a named element (message, enum, service, extension...) of the set.
func (s *Set) Descriptor(fullName string) (protoreflect.Descriptor, error) {
	return s.registry.FindDescriptorByName(protoreflect.FullName(fullName))
}

// JSON renders a file (of this set, or derived from one) in the generic JSON form the
// comparison works on, with the set's option extensions named as protojson names them.
func (s *Set) JSON(f *descriptorpb.FileDescriptorProto) (File, error) { return fileJSON(f) }

// Binary encodes the set as a binary FileDescriptorSet, deterministically.
func (s *Set) Binary() ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: s.files})
}
