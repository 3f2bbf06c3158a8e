package schema

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Render writes f, a file of the set or one Select reduced from it, as proto3 source that
// compiles to the same descriptor: every element and option it holds, in the order the
// descriptor lists them, with type names as short as protobuf's scoping allows. header,
// when not empty, is written first as a comment. The text is laid out in buf format's
// style, but `buf format` has the last word on layout.
func (s *Set) Render(f *descriptorpb.FileDescriptorProto, header string) ([]byte, error) {
	if f.GetSyntax() != "proto3" {
		return nil, fmt.Errorf("%s: syntax %q: only proto3 files can be rendered", f.GetName(), f.GetSyntax())
	}
	p := &printer{set: s, file: f}
	for line := range strings.SplitSeq(strings.TrimRight(header, "\n"), "\n") {
		if header != "" {
			p.line("// " + line)
		}
	}
	if header != "" {
		p.blank()
	}
	p.line(`syntax = "proto3";`)
	p.blank()
	if f.GetPackage() != "" {
		p.line("package " + f.GetPackage() + ";")
		p.blank()
	}
	p.imports()
	p.options(f.GetPackage(), f.GetOptions())
	for _, e := range f.GetEnumType() {
		p.blank()
		p.enum(f.GetPackage(), e)
	}
	for _, m := range f.GetMessageType() {
		p.blank()
		p.message(f.GetPackage(), m)
	}
	if len(f.GetExtension()) > 0 {
		p.blank()
		p.extensions(f.GetPackage(), f.GetExtension())
	}
	for _, svc := range f.GetService() {
		p.blank()
		p.service(f.GetPackage(), svc)
	}
	if p.err != nil {
		return nil, fmt.Errorf("%s: %w", f.GetName(), p.err)
	}
	return p.buf.Bytes(), nil
}

type printer struct {
	set    *Set
	file   *descriptorpb.FileDescriptorProto
	buf    bytes.Buffer
	indent int
	err    error // the first error; printing goes on so the code stays linear
}

func (p *printer) line(s string) {
	p.buf.WriteString(strings.Repeat("  ", p.indent))
	p.buf.WriteString(s)
	p.buf.WriteByte('\n')
}

// blank writes an empty line, unless the last line is already empty or opens a block.
func (p *printer) blank() {
	b := p.buf.Bytes()
	if len(b) == 0 || bytes.HasSuffix(b, []byte("\n\n")) || bytes.HasSuffix(b, []byte("{\n")) {
		return
	}
	p.buf.WriteByte('\n')
}

func (p *printer) open(s string) {
	p.line(s + " {")
	p.indent++
}

func (p *printer) close() {
	if b := p.buf.Bytes(); bytes.HasSuffix(b, []byte("\n\n")) {
		p.buf.Truncate(len(b) - 1) // no blank line before a closing brace
	}
	p.indent--
	p.line("}")
}

func (p *printer) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *printer) imports() {
	f := p.file
	public, weak := importKinds(f)
	var lines []string
	for i, dep := range f.GetDependency() {
		kind := ""
		switch {
		case public[int32(i)]:
			kind = "public "
		case weak[int32(i)]:
			kind = "weak "
		}
		lines = append(lines, "import "+kind+quote(dep)+";")
	}
	slices.Sort(lines)
	for _, l := range lines {
		p.line(l)
	}
	if len(lines) > 0 {
		p.blank()
	}
}

// options writes an element's options as option statements. scope is the element's own
// full name: an option name that resolves correctly from there resolves correctly from
// wherever a compiler starts looking for it (the element or its parent).
func (p *printer) options(scope string, opts interface{ ProtoReflect() protoreflect.Message }) {
	for _, o := range p.optionList(scope, opts) {
		p.line("option " + o + ";")
	}
}

// compact is the bracketed option list of a field or an enum value, with extra entries
// (json_name) first.
func (p *printer) compact(scope string, opts interface{ ProtoReflect() protoreflect.Message }, extra ...string) string {
	list := append(extra, p.optionList(scope, opts)...)
	if len(list) == 0 {
		return ""
	}
	return " [" + strings.Join(list, ", ") + "]"
}

// optionList renders each option set in opts as "name = value", in field-number order;
// a repeated option gives one entry per value.
func (p *printer) optionList(scope string, opts interface{ ProtoReflect() protoreflect.Message }) []string {
	if opts == nil {
		return nil
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return nil
	}
	var fields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		switch {
		case !fd.IsExtension() && fd.Name() == "map_entry":
			// Implied by the map<> syntax the entry's field is written in.
		case !fd.IsExtension() && fd.Name() == "uninterpreted_option":
			p.fail("uninterpreted options in %s", m.Descriptor().Name())
		default:
			fields = append(fields, fd)
		}
		return true
	})
	slices.SortFunc(fields, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
	var out []string
	for _, fd := range fields {
		name := string(fd.Name())
		if fd.IsExtension() {
			name = "(" + p.set.optionName(scope, string(fd.FullName())) + ")"
		}
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			p.fail("option %s is a map", fd.FullName())
		case fd.IsList():
			for i := range v.List().Len() {
				out = append(out, name+" = "+p.value(scope, fd, v.List().Get(i)))
			}
		default:
			out = append(out, name+" = "+p.value(scope, fd, v))
		}
	}
	return out
}

// value renders one value of a field as a protobuf text literal.
func (p *printer) value(scope string, fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		switch {
		case math.IsInf(f, 1):
			return "inf"
		case math.IsInf(f, -1):
			return "-inf"
		case math.IsNaN(f):
			return "nan"
		}
		bits := 64
		if fd.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		s := strconv.FormatFloat(f, 'g', -1, bits)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0" // a float literal, not an integer one
		}
		return s
	case protoreflect.StringKind:
		return quote(v.String())
	case protoreflect.BytesKind:
		return quoteBytes(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.FormatInt(int64(v.Enum()), 10)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return p.messageLiteral(scope, v.Message())
	}
	p.fail("option value of kind %v", fd.Kind())
	return ""
}

// messageLiteral renders a message value in the text format option values use.
func (p *printer) messageLiteral(scope string, m protoreflect.Message) string {
	var fields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	slices.SortFunc(fields, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
	var parts []string
	for _, fd := range fields {
		name := string(fd.Name())
		if fd.Kind() == protoreflect.GroupKind && !fd.IsExtension() {
			name = string(fd.Message().Name())
		}
		if fd.IsExtension() {
			name = "[" + string(fd.FullName()) + "]"
		}
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			var keys []protoreflect.MapKey
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
				return cmp.Compare(p.value(scope, fd.MapKey(), a.Value()), p.value(scope, fd.MapKey(), b.Value()))
			})
			for _, k := range keys {
				parts = append(parts, name+": {key: "+p.value(scope, fd.MapKey(), k.Value())+" value: "+p.value(scope, fd.MapValue(), v.Map().Get(k))+"}")
			}
		case fd.IsList():
			for i := range v.List().Len() {
				parts = append(parts, name+": "+p.value(scope, fd, v.List().Get(i)))
			}
		default:
			parts = append(parts, name+": "+p.value(scope, fd, v))
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func (p *printer) enum(scope string, e *descriptorpb.EnumDescriptorProto) {
	full := qualify(scope, e.GetName())
	p.open("enum " + e.GetName())
	p.options(full, e.GetOptions())
	var ranges []string
	for _, r := range e.GetReservedRange() {
		ranges = append(ranges, rangeText(int64(r.GetStart()), int64(r.GetEnd()), math.MaxInt32))
	}
	p.reserved(ranges, e.GetReservedName())
	for _, v := range e.GetValue() {
		p.line(v.GetName() + " = " + strconv.Itoa(int(v.GetNumber())) + p.compact(full+"."+v.GetName(), v.GetOptions()) + ";")
	}
	p.close()
}

// rangeText renders an inclusive range of numbers as reserved writes it.
func rangeText(start, end, maxValue int64) string {
	switch {
	case start == end:
		return strconv.FormatInt(start, 10)
	case end == maxValue:
		return strconv.FormatInt(start, 10) + " to max"
	}
	return strconv.FormatInt(start, 10) + " to " + strconv.FormatInt(end, 10)
}

func (p *printer) reserved(ranges, names []string) {
	if len(ranges) > 0 {
		p.line("reserved " + strings.Join(ranges, ", ") + ";")
	}
	if len(names) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = quote(n)
		}
		p.line("reserved " + strings.Join(quoted, ", ") + ";")
	}
}

// maxFieldNumber is the largest field number protobuf allows.
const maxFieldNumber = 1<<29 - 1

func (p *printer) message(scope string, m *descriptorpb.DescriptorProto) {
	full := qualify(scope, m.GetName())
	if m.GetOptions().GetMapEntry() {
		return // written as the map<> field that uses it
	}
	if len(m.GetExtensionRange()) > 0 {
		p.fail("message %s: extension ranges are not proto3", full)
	}
	p.open("message " + m.GetName())
	p.options(full, m.GetOptions())
	var ranges []string
	for _, r := range m.GetReservedRange() {
		ranges = append(ranges, rangeText(int64(r.GetStart()), int64(r.GetEnd())-1, maxFieldNumber))
	}
	p.reserved(ranges, m.GetReservedName())

	nested := map[string]*descriptorpb.DescriptorProto{}
	for _, n := range m.GetNestedType() {
		nested["."+full+"."+n.GetName()] = n
	}
	openOneof := int32(-1)
	for _, fd := range m.GetField() {
		oneof := int32(-1)
		if fd.OneofIndex != nil && !fd.GetProto3Optional() {
			oneof = fd.GetOneofIndex()
		}
		if oneof != openOneof {
			if openOneof >= 0 {
				p.close()
			}
			if oneof >= 0 {
				if int(oneof) >= len(m.GetOneofDecl()) {
					p.fail("field %s.%s: oneof index %d out of range", full, fd.GetName(), oneof)
					break
				}
				od := m.GetOneofDecl()[oneof]
				p.open("oneof " + od.GetName())
				p.options(full+"."+od.GetName(), od.GetOptions())
			}
			openOneof = oneof
		}
		p.field(full, fd, nested)
	}
	if openOneof >= 0 {
		p.close()
	}
	for _, e := range m.GetEnumType() {
		p.blank()
		p.enum(full, e)
	}
	for _, n := range m.GetNestedType() {
		if n.GetOptions().GetMapEntry() {
			continue
		}
		p.blank()
		p.message(full, n)
	}
	if len(m.GetExtension()) > 0 {
		p.blank()
		p.extensions(full, m.GetExtension())
	}
	p.close()
}

// field writes a field of the message full; nested holds the message's nested types by
// full name, to find map entries.
func (p *printer) field(full string, fd *descriptorpb.FieldDescriptorProto, nested map[string]*descriptorpb.DescriptorProto) {
	if fd.DefaultValue != nil {
		p.fail("field %s.%s: default values are not proto3", full, fd.GetName())
	}
	var extra []string
	if fd.JsonName != nil && fd.GetJsonName() != jsonCamelCase(fd.GetName()) {
		extra = append(extra, "json_name = "+quote(fd.GetJsonName()))
	}
	num := " = " + strconv.Itoa(int(fd.GetNumber()))
	opts := p.compact(full+"."+fd.GetName(), fd.GetOptions(), extra...)
	if entry := nested[fd.GetTypeName()]; entry != nil && entry.GetOptions().GetMapEntry() && fd.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED {
		if len(entry.GetField()) != 2 {
			p.fail("map entry %s has %d fields", fd.GetTypeName(), len(entry.GetField()))
			return
		}
		entryFull := strings.TrimPrefix(fd.GetTypeName(), ".")
		key, value := p.fieldType(entryFull, entry.GetField()[0]), p.fieldType(entryFull, entry.GetField()[1])
		p.line("map<" + key + ", " + value + "> " + fd.GetName() + num + opts + ";")
		return
	}
	p.line(p.label(fd) + p.fieldType(full, fd) + " " + fd.GetName() + num + opts + ";")
}

func (p *printer) label(fd *descriptorpb.FieldDescriptorProto) string {
	switch {
	case fd.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED:
		return "repeated "
	case fd.GetProto3Optional():
		return "optional "
	case fd.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REQUIRED:
		p.fail("field %s: required fields are not proto3", fd.GetName())
	}
	return ""
}

func (p *printer) fieldType(scope string, fd *descriptorpb.FieldDescriptorProto) string {
	switch fd.GetType() {
	case descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_ENUM:
		return p.set.typeName(scope, fd.GetTypeName())
	case descriptorpb.FieldDescriptorProto_TYPE_GROUP:
		p.fail("field %s: groups are not proto3", fd.GetName())
		return ""
	case 0:
		if fd.GetTypeName() != "" {
			return p.set.typeName(scope, fd.GetTypeName())
		}
		p.fail("field %s has no type", fd.GetName())
		return ""
	}
	name, ok := descriptorpb.FieldDescriptorProto_Type_name[int32(fd.GetType())]
	if !ok {
		p.fail("field %s: unknown type %d", fd.GetName(), fd.GetType())
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(name, "TYPE_"))
}

// extensions writes extension fields in extend blocks, one block per run of fields with
// the same extendee.
func (p *printer) extensions(scope string, xs []*descriptorpb.FieldDescriptorProto) {
	for i, x := range xs {
		if i == 0 || xs[i-1].GetExtendee() != x.GetExtendee() {
			if i > 0 {
				p.close()
				p.blank()
			}
			p.open("extend " + p.set.typeName(scope, x.GetExtendee()))
		}
		p.line(p.label(x) + p.fieldType(scope, x) + " " + x.GetName() + " = " + strconv.Itoa(int(x.GetNumber())) + p.compact(qualify(scope, x.GetName()), x.GetOptions()) + ";")
	}
	p.close()
}

func (p *printer) service(scope string, svc *descriptorpb.ServiceDescriptorProto) {
	full := qualify(scope, svc.GetName())
	p.open("service " + svc.GetName())
	p.options(full, svc.GetOptions())
	p.blank()
	for _, m := range svc.GetMethod() {
		in, out := p.set.typeName(full, m.GetInputType()), p.set.typeName(full, m.GetOutputType())
		if m.GetClientStreaming() {
			in = "stream " + in
		}
		if m.GetServerStreaming() {
			out = "stream " + out
		}
		sig := "rpc " + m.GetName() + "(" + in + ") returns (" + out + ")"
		opts := p.optionList(qualify(full, m.GetName()), m.GetOptions())
		if len(opts) == 0 {
			p.line(sig + ";")
			continue
		}
		p.blank()
		p.open(sig)
		for _, o := range opts {
			p.line("option " + o + ";")
		}
		p.close()
		p.blank()
	}
	p.close()
}

// jsonCamelCase is the json_name protobuf derives from a field name.
func jsonCamelCase(s string) string {
	var b []byte
	wasUnderscore := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' {
			if wasUnderscore && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		wasUnderscore = c == '_'
	}
	return string(b)
}

// quote writes a string literal protobuf's parsers read back exactly: printable UTF-8
// as is, everything else escaped.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\%03o`, s[i])
		case r < 0x20 || r == 0x7f || r == '"' || r == '\\':
			b.WriteString(escapeByte(byte(r)))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// quoteBytes writes a bytes literal: printable ASCII as is, everything else escaped.
func quoteBytes(v []byte) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b.WriteString(escapeByte(c))
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func escapeByte(c byte) string {
	switch c {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	case '"':
		return `\"`
	case '\\':
		return `\\`
	}
	return fmt.Sprintf(`\%03o`, c)
}
