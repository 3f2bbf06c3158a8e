package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gokentik/kentik"
	corev "github.com/gokentik/kentik/gen/kentik/core/v202303"
)

func newAPIDescribeCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a v6 service, method, message or enum as schema text",
		Long: `Show a service, method, message or enum of Kentik's v6 schema, from the schema compiled
into this program, in the syntax of a .proto file: fields with their types, labels and
numbers, oneofs, enum values, and for each method its request and response, its REST
binding, its Kentik method scope, whether it reads or writes, whether the client may
retry it, and its rate-limit class.

A method is shown with its request message, every message and enum the request uses (to
write a request for kentik api call), and its response message. JSON requests and
responses name fields in lowerCamelCase (total_count is totalCount); kentik api call
takes either spelling. NAME is as for kentik api call: a full name, or any trailing part
of one that names one thing (ListInterface, Interface, ConnectivityType); a field or enum
value shows what holds it.

-o json writes the descriptor itself (a google.protobuf.DescriptorProto,
ServiceDescriptorProto, MethodDescriptorProto or EnumDescriptorProto) as JSON.`,
		Example: `  kentik api describe InterfaceService
  kentik api describe ListInterface
  kentik api describe kentik.interface.v202108alpha1.ConnectivityType
  kentik api describe /kentik.interface.v202108alpha1.InterfaceService/ManualClassify -o json`,
		Args:              positionalArgs,
		Annotations:       map[string]string{annotationSettings: settingsNone},
		ValidArgsFunction: completeSymbols,
		RunE: func(_ *cobra.Command, args []string) error {
			d, err := lookupSymbol(args[0])
			if err != nil {
				return err
			}
			if g.JSON() {
				return writeProtoJSON(g.Stdout, descriptorProto(d))
			}
			_, err = io.WriteString(g.Stdout, describeSchema(d))
			return err
		},
	}
}

// lookupSymbol returns the service, method, message or enum name names: one of kentik.*
// packages by its full name or a trailing part of it, or anything the program's schema
// holds by its full name (google.protobuf.Timestamp). A field, oneof or enum value
// gives what holds it.
func lookupSymbol(name string) (protoreflect.Descriptor, error) {
	_, symbols := apiIndexes()
	if ds := symbols.find(name); len(ds) == 0 {
		if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(normalName(name))); err == nil {
			return describable(d), nil
		}
	}
	return symbols.lookup("service, method, message or enum", name)
}

// describable returns d if describe shows it, else what holds it.
func describable(d protoreflect.Descriptor) protoreflect.Descriptor {
	for {
		switch d.(type) {
		case protoreflect.ServiceDescriptor, protoreflect.MethodDescriptor, protoreflect.MessageDescriptor, protoreflect.EnumDescriptor:
			return d
		case protoreflect.FileDescriptor:
			return d
		}
		if vd, ok := d.(protoreflect.EnumValueDescriptor); ok {
			return vd.Parent()
		}
		d = d.Parent()
	}
}

// completeSymbols offers, for describe, the public methods (as completeMethods does), and
// the full names of services, messages and enums that start with toComplete.
func completeSymbols(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := completeMethods(toComplete)
	_, symbols := apiIndexes()
	for _, d := range symbols.all {
		if _, ok := d.(protoreflect.MethodDescriptor); ok {
			continue
		}
		if s := symbols.shortest(d); strings.HasPrefix(s, toComplete) {
			out = append(out, s)
		} else if f := string(d.FullName()); strings.HasPrefix(f, toComplete) {
			out = append(out, f)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// descriptorProto returns d's descriptor as a message (describe -o json).
func descriptorProto(d protoreflect.Descriptor) proto.Message {
	switch d := d.(type) {
	case protoreflect.ServiceDescriptor:
		return protodesc.ToServiceDescriptorProto(d)
	case protoreflect.MethodDescriptor:
		return protodesc.ToMethodDescriptorProto(d)
	case protoreflect.MessageDescriptor:
		return protodesc.ToDescriptorProto(d)
	case protoreflect.EnumDescriptor:
		return protodesc.ToEnumDescriptorProto(d)
	case protoreflect.FileDescriptor:
		return protodesc.ToFileDescriptorProto(d)
	}
	return nil
}

// describeSchema renders d as .proto text. protobuf-go has no printer of descriptors as
// .proto source (protodesc converts only to descriptor messages), so it is written here.
func describeSchema(d protoreflect.Descriptor) string {
	w := &schemaWriter{pkg: d.ParentFile().Package(), written: map[protoreflect.FullName]bool{}}
	fmt.Fprintf(&w.b, "package %s;\n", w.pkg)
	switch d := d.(type) {
	case protoreflect.ServiceDescriptor:
		w.service(d, nil)
	case protoreflect.MethodDescriptor:
		w.service(d.Parent().(protoreflect.ServiceDescriptor), d)
		w.message(d.Input(), "")
		w.used(d.Input())
		w.message(d.Output(), "")
	case protoreflect.MessageDescriptor:
		w.message(d, "")
	case protoreflect.EnumDescriptor:
		w.enum(d, "")
	case protoreflect.FileDescriptor:
		for i := range d.Services().Len() {
			w.service(d.Services().Get(i), nil)
		}
		for i := range d.Messages().Len() {
			w.message(d.Messages().Get(i), "")
		}
		for i := range d.Enums().Len() {
			w.enum(d.Enums().Get(i), "")
		}
	}
	return w.b.String()
}

// schemaWriter writes descriptors as .proto text; names of its package are written
// relative to it.
type schemaWriter struct {
	b       strings.Builder
	pkg     protoreflect.FullName
	written map[protoreflect.FullName]bool // messages and enums written so far
}

// name returns a message's or enum's name relative to the package written, or its full
// name when it is of another package.
func (w *schemaWriter) name(d protoreflect.Descriptor) string {
	full := string(d.FullName())
	if rel, ok := strings.CutPrefix(full, string(w.pkg)+"."); ok && d.ParentFile().Package() == w.pkg {
		return rel
	}
	return full
}

func (w *schemaWriter) service(sd protoreflect.ServiceDescriptor, only protoreflect.MethodDescriptor) {
	host := kentik.ServiceHost(sd)
	fmt.Fprintf(&w.b, "\n// %s; served by %s (%s in the EU)", kentik.Stability(string(sd.ParentFile().Package())), host, kentik.EU.Host(host))
	if s, _ := proto.GetExtension(sd.Options(), corev.E_ServiceScope).(string); s != "" {
		fmt.Fprintf(&w.b, "; scope %s", s)
	}
	fmt.Fprintf(&w.b, "\nservice %s {\n", sd.Name())
	first := true
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		if only != nil && md != only {
			continue
		}
		if !first {
			w.b.WriteByte('\n')
		}
		first = false
		w.method(md)
	}
	w.b.WriteString("}\n")
}

func (w *schemaWriter) method(md protoreflect.MethodDescriptor) {
	fullMethod := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	if m, err := kentik.LookupMethod(fullMethod); err == nil {
		idem := "not idempotent"
		if m.Idempotent {
			idem = "idempotent"
		}
		var notes []string
		if apiPrivate(m) {
			notes = append(notes, "private")
		}
		notes = append(notes, apiAccess(m)+", "+idem)
		if m.Scope != "" {
			notes = append(notes, "scope "+m.Scope)
		}
		if rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); m.HTTPMethod != "" {
			b := m.HTTPMethod + " " + m.HTTPPath
			if body := rule.GetBody(); body != "" {
				b += " (body " + body + ")"
			}
			notes = append(notes, b)
		}
		notes = append(notes, "limit class "+apiLimitClass(m))
		fmt.Fprintf(&w.b, "  // %s\n", strings.Join(notes, "; "))
	}
	in, out := "", ""
	if md.IsStreamingClient() {
		in = "stream "
	}
	if md.IsStreamingServer() {
		out = "stream "
	}
	fmt.Fprintf(&w.b, "  rpc %s(%s%s) returns (%s%s);\n", md.Name(), in, w.name(md.Input()), out, w.name(md.Output()))
}

// used writes, once each, every message and enum of kentik.* packages that m's fields
// use, directly or through other messages, in the order first met.
func (w *schemaWriter) used(m protoreflect.MessageDescriptor) {
	queue := []protoreflect.MessageDescriptor{m}
	for len(queue) > 0 {
		m, queue = queue[0], queue[1:]
		for i := range m.Fields().Len() {
			fd := m.Fields().Get(i)
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			switch {
			case fd.Enum() != nil && w.ours(fd.Enum()):
				w.enum(fd.Enum(), "")
			case fd.Message() != nil && w.ours(fd.Message()):
				w.message(fd.Message(), "")
				queue = append(queue, fd.Message())
			}
		}
	}
}

// ours reports whether d is of a kentik.* package and not written yet.
func (w *schemaWriter) ours(d protoreflect.Descriptor) bool {
	return strings.HasPrefix(string(d.ParentFile().Package()), "kentik.") && !w.written[d.FullName()]
}

func (w *schemaWriter) message(md protoreflect.MessageDescriptor, indent string) {
	w.written[md.FullName()] = true
	name := string(md.Name())
	if indent == "" {
		name = w.name(md)
		w.b.WriteByte('\n')
	}
	if deprecated(md.Options()) {
		fmt.Fprintf(&w.b, "%s// deprecated\n", indent)
	}
	if j := wktJSON[md.FullName()]; j != "" {
		fmt.Fprintf(&w.b, "%s// in JSON: %s\n", indent, j)
	}
	var nested []protoreflect.MessageDescriptor
	for i := range md.Messages().Len() {
		if n := md.Messages().Get(i); !n.IsMapEntry() {
			nested = append(nested, n)
		}
	}
	if md.Fields().Len() == 0 && len(nested) == 0 && md.Enums().Len() == 0 {
		fmt.Fprintf(&w.b, "%smessage %s {}\n", indent, name)
		return
	}
	fmt.Fprintf(&w.b, "%smessage %s {\n", indent, name)
	inner := indent + "  "
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		od := fd.ContainingOneof()
		if od == nil || od.IsSynthetic() {
			w.field(fd, inner)
			continue
		}
		if od.Fields().Get(0) != fd {
			continue // written with the oneof's first field
		}
		fmt.Fprintf(&w.b, "%soneof %s {\n", inner, od.Name())
		for j := range od.Fields().Len() {
			w.field(od.Fields().Get(j), inner+"  ")
		}
		fmt.Fprintf(&w.b, "%s}\n", inner)
	}
	for _, n := range nested {
		w.message(n, inner)
	}
	for i := range md.Enums().Len() {
		w.enum(md.Enums().Get(i), inner)
	}
	fmt.Fprintf(&w.b, "%s}\n", indent)
}

func (w *schemaWriter) field(fd protoreflect.FieldDescriptor, indent string) {
	label := ""
	switch {
	case fd.IsMap():
	case fd.IsList():
		label = "repeated "
	case fd.Cardinality() == protoreflect.Required:
		label = "required "
	case fd.HasOptionalKeyword():
		label = "optional "
	}
	var opts []string
	if fd.HasJSONName() && fd.JSONName() != jsonCamel(string(fd.Name())) {
		opts = append(opts, fmt.Sprintf("json_name = %q", fd.JSONName()))
	}
	if deprecated(fd.Options()) {
		opts = append(opts, "deprecated = true")
	}
	o := ""
	if len(opts) > 0 {
		o = " [" + strings.Join(opts, ", ") + "]"
	}
	fmt.Fprintf(&w.b, "%s%s%s %s = %d%s;\n", indent, label, w.fieldType(fd), fd.Name(), fd.Number(), o)
}

func (w *schemaWriter) fieldType(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + w.fieldType(fd.MapKey()) + ", " + w.fieldType(fd.MapValue()) + ">"
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return w.name(fd.Message())
	case protoreflect.EnumKind:
		return w.name(fd.Enum())
	}
	return fd.Kind().String()
}

func (w *schemaWriter) enum(ed protoreflect.EnumDescriptor, indent string) {
	w.written[ed.FullName()] = true
	name := string(ed.Name())
	if indent == "" {
		name = w.name(ed)
		w.b.WriteByte('\n')
	}
	fmt.Fprintf(&w.b, "%senum %s {\n", indent, name)
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		o := ""
		if deprecated(v.Options()) {
			o = " [deprecated = true]"
		}
		fmt.Fprintf(&w.b, "%s  %s = %d%s;\n", indent, v.Name(), v.Number(), o)
	}
	fmt.Fprintf(&w.b, "%s}\n", indent)
}

// wktJSON says what JSON stands for the well-known types whose JSON form is not an
// object of their fields.
var wktJSON = map[protoreflect.FullName]string{
	"google.protobuf.Timestamp":   `an RFC 3339 time in a string, e.g. "2024-05-01T12:00:00Z"`,
	"google.protobuf.Duration":    `seconds with an s in a string, e.g. "1.5s"`,
	"google.protobuf.FieldMask":   `field paths in lowerCamelCase in a string, separated by commas, e.g. "name,deviceIds"`,
	"google.protobuf.Struct":      "any JSON object",
	"google.protobuf.Value":       "any JSON value",
	"google.protobuf.ListValue":   "any JSON array",
	"google.protobuf.Any":         `an object with "@type" and the fields of that type`,
	"google.protobuf.BoolValue":   "true or false, or null",
	"google.protobuf.StringValue": "a string, or null",
	"google.protobuf.BytesValue":  "base64 in a string, or null",
	"google.protobuf.Int32Value":  "a number, or null",
	"google.protobuf.UInt32Value": "a number, or null",
	"google.protobuf.Int64Value":  "a number in a string, or null",
	"google.protobuf.UInt64Value": "a number in a string, or null",
	"google.protobuf.FloatValue":  "a number, or null",
	"google.protobuf.DoubleValue": "a number, or null",
}

// deprecated reports whether options (of any kind of descriptor) set deprecated.
func deprecated(opts proto.Message) bool {
	if opts == nil {
		return false
	}
	fd := opts.ProtoReflect().Descriptor().Fields().ByName("deprecated")
	return fd != nil && opts.ProtoReflect().Get(fd).Bool()
}

// jsonCamel returns the JSON name protoc gives a field by default: its name with each
// underscore dropped and the letter after it upper-cased.
func jsonCamel(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up && 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			up = false
		default:
			b.WriteRune(r)
			up = false
		}
	}
	return b.String()
}
