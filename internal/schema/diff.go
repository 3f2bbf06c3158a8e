// This file compares two schemas: both sides are turned into the JSON form of
// google.protobuf.FileDescriptorProto and compared structurally: objects key by key, lists
// of named things (messages, fields, enums, values, services, methods, oneofs, extensions)
// by name, other lists by position. That covers names, numbers, types, labels, json names,
// oneofs, reserved ranges, streaming flags and every option the project carries, without a
// hand-written comparison per descriptor kind that could silently miss one.

package schema

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ReferencePath is where Kentik's published schema sits beside a checkout of the project.
const ReferencePath = "../../../shared/kentik-api-v6/descriptor.json"

// File is one .proto file's FileDescriptorProto in generic JSON form.
type File = map[string]any

// LoadReference reads a FileDescriptorSet in protobuf JSON form (as `buf build -o x.json`
// writes it) and returns its files by path.
func LoadReference(path string) (map[string]File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read reference schema: %w", err)
	}
	return ParseReference(raw)
}

// ParseReference decodes a FileDescriptorSet in protobuf JSON form.
func ParseReference(raw []byte) (map[string]File, error) {
	var set struct {
		File []File `json:"file"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("decode reference schema: %w", err)
	}
	files := make(map[string]File, len(set.File))
	for i, f := range set.File {
		name, _ := f["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("decode reference schema: file %d has no name", i)
		}
		files[name] = f
	}
	return files, nil
}

// FromRawDescriptor renders a serialized FileDescriptorProto (the rawDesc constant
// protoc-gen-go writes into each .pb.go) in the same JSON form. Option extensions are
// resolved through the global registry: one whose package is not linked in stays unknown
// and so shows up as missing, never as a silent match.
func FromRawDescriptor(raw []byte) (File, error) {
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		return nil, fmt.Errorf("decode raw descriptor: %w", err)
	}
	return fileJSON(&fdp)
}

// fileJSON renders a FileDescriptorProto in the generic JSON form: protojson's, decoded
// by encoding/json.
func fileJSON(f *descriptorpb.FileDescriptorProto) (File, error) {
	b, err := protojson.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", f.GetName(), err)
	}
	var out File
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", f.GetName(), err)
	}
	return out, nil
}

// normalize removes what legitimately differs between the two sides: buf's own
// bookkeeping, source info, file-level language options (go_package and friends are
// each project's choice), the OpenAPI options and their imports, and import order.
func normalize(f File) File {
	out := deepCopy(f).(map[string]any)
	delete(out, "bufExtension")
	delete(out, "sourceCodeInfo")
	delete(out, "options")
	if deps, ok := out["dependency"].([]any); ok {
		kept := make([]string, 0, len(deps))
		for _, d := range deps {
			s, _ := d.(string)
			if !DocumentationFile(s) {
				kept = append(kept, s)
			}
		}
		sort.Strings(kept)
		list := make([]any, len(kept))
		for i, s := range kept {
			list[i] = s
		}
		out["dependency"] = list
	}
	stripOptions(out)
	return out
}

func stripOptions(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "options" {
				if opts, ok := child.(map[string]any); ok {
					for name := range opts {
						if strings.HasPrefix(name, "[") && DocumentationOption(strings.Trim(name, "[]")) {
							delete(opts, name)
						}
					}
					if len(opts) == 0 {
						delete(v, k)
						continue
					}
				}
			}
			stripOptions(child)
		}
	case []any:
		for _, child := range v {
			stripOptions(child)
		}
	}
}

// Diff lists every difference between want (the reference) and got (the project), as
// readable lines naming the path to the difference. Both are normalized first.
func Diff(want, got File) []string {
	return Compare(normalize(want), normalize(got))
}

// Compare lists every difference between want and got as they are, without normalizing.
func Compare(want, got File) []string {
	var out []string
	name, _ := want["name"].(string)
	diff(name, want, got, &out)
	return out
}

func diff(path string, want, got any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want an object %s, got %s", path, brief(want), brief(got)))
			return
		}
		for _, k := range unionKeys(w, g) {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inG:
				*out = append(*out, fmt.Sprintf("%s.%s: missing (want %s)", path, k, brief(wv)))
			case !inW:
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected (got %s)", path, k, brief(gv)))
			default:
				diff(path+"."+k, wv, gv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: want a list %s, got %s", path, brief(want), brief(got)))
			return
		}
		wn, wNamed := byName(w)
		gn, gNamed := byName(g)
		if wNamed && gNamed {
			for _, k := range unionKeys(wn, gn) {
				wv, inW := wn[k]
				gv, inG := gn[k]
				switch {
				case !inG:
					*out = append(*out, fmt.Sprintf("%s[%s]: missing", path, k))
				case !inW:
					*out = append(*out, fmt.Sprintf("%s[%s]: unexpected", path, k))
				default:
					diff(path+"["+k+"]", wv, gv, out)
				}
			}
			return
		}
		if len(w) != len(g) {
			*out = append(*out, fmt.Sprintf("%s: want %d entries %s, got %d %s", path, len(w), brief(w), len(g), brief(g)))
			return
		}
		for i := range w {
			diff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], out)
		}
	default:
		if !reflect.DeepEqual(want, got) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, brief(want), brief(got)))
		}
	}
}

// byName indexes a list of objects by their "name" member, when every element has a
// distinct one.
func byName(list []any) (map[string]any, bool) {
	if len(list) == 0 {
		return map[string]any{}, true
	}
	m := make(map[string]any, len(list))
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		name, ok := obj["name"].(string)
		if !ok {
			return nil, false
		}
		if _, dup := m[name]; dup {
			return nil, false
		}
		m[name] = obj
	}
	return m, true
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, c := range v {
			l[i] = deepCopy(c)
		}
		return l
	default:
		return v
	}
}
