package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/services"
)

// newAPICmd makes kentik api; opts are given to the client of api call after the
// command's own (tests route hosts with them).
func newAPICmd(g *Globals, opts ...client.Option) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api",
		Short: "List, describe and call any public Kentik v6 method",
		Long: `List, describe and call any public method of Kentik's v6 APIs, from the schema compiled
into this program: no schema file and no network are needed to list or describe them.

A method, service, message or enum is named by its full name
(kentik.interface.v202108alpha1.InterfaceService.ListInterface, or for methods
/kentik.interface.v202108alpha1.InterfaceService/ListInterface) or by any trailing part of
it that names only one thing: InterfaceService.ListInterface, ListInterface,
v202308beta1.DeviceService.ListDevices. Case is ignored when no name matches exactly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAPIListCmd(g), newAPIDescribeCmd(g), newAPICallCmd(g, opts...))
	return cmd
}

// apiLimitClass is the rate-limit class the command counts a method's calls in: dialGRPC
// gives the client no client.WithLimitClass, so every v6 call of the account shares its
// admin class, as Kentik publishes no other table for v6.
func apiLimitClass(*kentik.Method) string { return kentik.ClassV6Admin }

// apiAccess says whether a method reads or writes: its Kentik method scope says so
// ("admin.interface:read"); a method without one reads when its HTTP binding is a GET.
func apiAccess(m *kentik.Method) string {
	switch {
	case strings.HasSuffix(m.Scope, ":read"):
		return "read"
	case strings.HasSuffix(m.Scope, ":write"):
		return "write"
	case m.Scope == "" && m.HTTPMethod == "GET":
		return "read"
	}
	return "write"
}

// nameIndex finds descriptors by their full name or by any trailing part of it at a dot
// ("ListInterface", "InterfaceService.ListInterface"), exactly or ignoring case.
type nameIndex struct {
	all   []protoreflect.Descriptor // sorted by full name
	exact map[string][]protoreflect.Descriptor
	fold  map[string][]protoreflect.Descriptor
}

func newNameIndex(ds []protoreflect.Descriptor) *nameIndex {
	x := &nameIndex{all: ds, exact: map[string][]protoreflect.Descriptor{}, fold: map[string][]protoreflect.Descriptor{}}
	slices.SortFunc(x.all, func(a, b protoreflect.Descriptor) int { return cmp.Compare(a.FullName(), b.FullName()) })
	for _, d := range x.all {
		for _, s := range suffixes(string(d.FullName())) {
			x.exact[s] = append(x.exact[s], d)
			x.fold[strings.ToLower(s)] = append(x.fold[strings.ToLower(s)], d)
		}
	}
	return x
}

// suffixes returns the trailing parts of a full name at its dots, shortest first:
// "Method", "Service.Method", "v1.Service.Method", ..., the full name.
func suffixes(full string) []string {
	var out []string
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '.' {
			out = append(out, full[i+1:])
		}
	}
	return append(out, full)
}

// normalName turns the other spellings of a method's name into a dotted full name or
// trailing part: "/pkg.Service/Method" and "pkg.Service/Method" into "pkg.Service.Method".
func normalName(name string) string {
	name = strings.TrimPrefix(strings.TrimSpace(name), "/")
	return strings.Replace(name, "/", ".", 1)
}

// find returns what name names: the exact matches of it as a full name or trailing part,
// else those that match ignoring case.
func (x *nameIndex) find(name string) []protoreflect.Descriptor {
	n := normalName(name)
	if ds := x.exact[n]; len(ds) > 0 {
		return ds
	}
	return x.fold[strings.ToLower(n)]
}

// lookup returns the one descriptor name names, or a usage error that says what name
// matched: nothing (with the nearest names), or several (listing them). what is the
// kind of thing looked for ("method").
func (x *nameIndex) lookup(what, name string) (protoreflect.Descriptor, error) {
	ds := x.find(name)
	switch len(ds) {
	case 1:
		return ds[0], nil
	case 0:
		msg := fmt.Sprintf("no %s %q in this program's schema", what, name)
		if near := x.near(name); len(near) > 0 {
			msg += "; did you mean " + joinOr(near) + "?"
		}
		return nil, usagef("%s (kentik api list shows every method)", msg)
	}
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = string(d.FullName())
	}
	return nil, usagef("%s %q is ambiguous: it may be %s; give one of those names, or a longer trailing part of one", what, name, joinOr(names))
}

// near returns the shortest names of at most five descriptors whose own name is within
// a small edit distance of name's last part, ignoring case.
func (x *nameIndex) near(name string) []string {
	n := strings.ToLower(normalName(name))
	if i := strings.LastIndexByte(n, '.'); i >= 0 {
		n = n[i+1:]
	}
	if n == "" || len(n) > 200 {
		return nil
	}
	limit := max(1, min(3, len(n)/4))
	var out []string
	for _, d := range x.all {
		dn := strings.ToLower(string(d.Name()))
		if abs(len(dn)-len(n)) <= limit && editDistance(n, dn) <= limit {
			out = append(out, x.shortest(d))
			if len(out) == 5 {
				break
			}
		}
	}
	return slices.Compact(out)
}

func abs(n int) int { return max(n, -n) }

// shortest returns the shortest trailing part of d's full name that names d alone.
func (x *nameIndex) shortest(d protoreflect.Descriptor) string {
	for _, s := range suffixes(string(d.FullName())) {
		if len(x.exact[s]) == 1 {
			return s
		}
	}
	return string(d.FullName())
}

var (
	apiIndexOnce  sync.Once
	apiMethodsIdx *nameIndex                               // the methods of every public service
	apiSymbolsIdx *nameIndex                               // services, methods, messages and enums of kentik.* packages
	apiMethods    map[protoreflect.FullName]*kentik.Method // by the method's full name
)

// apiIndexes builds, once, the indexes of the schema compiled into the program.
func apiIndexes() (methods, symbols *nameIndex) {
	apiIndexOnce.Do(func() {
		apiMethods = map[protoreflect.FullName]*kentik.Method{}
		var ms []protoreflect.Descriptor
		for _, s := range services.All() {
			for _, m := range s.Methods {
				apiMethods[m.Desc.FullName()] = m
				ms = append(ms, m.Desc)
			}
		}
		apiMethodsIdx = newNameIndex(ms)
		apiSymbolsIdx = newNameIndex(kentikSymbols())
	})
	return apiMethodsIdx, apiSymbolsIdx
}

// kentikSymbols returns the services, methods, messages and enums (nested ones too, but
// not the entries of map fields) of every kentik.* file the program holds.
func kentikSymbols() []protoreflect.Descriptor {
	var out []protoreflect.Descriptor
	var messages func(protoreflect.MessageDescriptors)
	enums := func(es protoreflect.EnumDescriptors) {
		for i := range es.Len() {
			out = append(out, es.Get(i))
		}
	}
	messages = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			m := ms.Get(i)
			if m.IsMapEntry() {
				continue
			}
			out = append(out, m)
			messages(m.Messages())
			enums(m.Enums())
		}
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kentik.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			out = append(out, sd)
			for j := range sd.Methods().Len() {
				out = append(out, sd.Methods().Get(j))
			}
		}
		messages(fd.Messages())
		enums(fd.Enums())
		return true
	})
	return out
}

// lookupAPIMethod returns the public method name names (see newAPICmd for the forms).
func lookupAPIMethod(name string) (*kentik.Method, error) {
	methods, _ := apiIndexes()
	d, err := methods.lookup("method", name)
	if err != nil {
		return nil, err
	}
	return apiMethods[d.FullName()], nil
}

// completeMethods offers, for shell completion, one name per public method that starts
// with toComplete: the shortest trailing part of its full name that names it alone, or
// else the shortest that starts with toComplete; "/pkg.Service/Method" forms when
// toComplete starts with a slash. Each comes with its service and stability as a
// description.
func completeMethods(toComplete string) []string {
	methods, _ := apiIndexes()
	var out []string
	seen := map[string]bool{}
	for _, d := range methods.all {
		m := apiMethods[d.FullName()]
		desc := "\t" + string(m.Service.FullName()) + " (" + kentik.Stability(string(m.Service.ParentFile().Package())) + ")"
		if strings.HasPrefix(toComplete, "/") {
			if strings.HasPrefix(m.FullMethod, toComplete) {
				out = append(out, m.FullMethod+desc)
			}
			continue
		}
		name := ""
		for _, s := range suffixes(string(d.FullName())) {
			if !strings.HasPrefix(s, toComplete) {
				continue
			}
			if name == "" {
				name = s
			}
			if len(methods.exact[s]) == 1 {
				name = s
				break
			}
		}
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if n := len(methods.exact[name]); n > 1 {
			desc = fmt.Sprintf("\tambiguous: %d methods have this name", n)
		}
		out = append(out, name+desc)
	}
	return out
}
