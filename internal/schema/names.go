package schema

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// symbolKind is what a name of the set stands for, as far as protobuf's name resolution
// cares: aggregates (packages, messages, enums, services) can hold further names, types
// (messages, enums) can be a field's type, and everything else is just a name.
type symbolKind uint8

const (
	otherSymbol symbolKind = iota
	packageSymbol
	messageSymbol
	enumSymbol
	serviceSymbol
	extensionSymbol
)

func (k symbolKind) aggregate() bool { return k >= packageSymbol && k <= serviceSymbol }
func (k symbolKind) isType() bool    { return k == messageSymbol || k == enumSymbol }

// symbols indexes every name the set defines. A .proto file sees only the names of the
// files it imports; indexing the whole set instead can only make a short name look
// ambiguous when it is not, which costs a longer name, never a wrong one.
func (s *Set) symbols() map[string]symbolKind {
	s.symbolsOnce.Do(func() {
		syms := map[string]symbolKind{}
		add := func(d protoreflect.Descriptor, k symbolKind) { syms[string(d.FullName())] = k }
		var addEnums func(protoreflect.EnumDescriptors)
		addEnums = func(enums protoreflect.EnumDescriptors) {
			for i := range enums.Len() {
				e := enums.Get(i)
				add(e, enumSymbol)
				for j := range e.Values().Len() {
					add(e.Values().Get(j), otherSymbol)
				}
			}
		}
		addExtensions := func(xs protoreflect.ExtensionDescriptors) {
			for i := range xs.Len() {
				add(xs.Get(i), extensionSymbol)
			}
		}
		var addMessages func(protoreflect.MessageDescriptors)
		addMessages = func(msgs protoreflect.MessageDescriptors) {
			for i := range msgs.Len() {
				m := msgs.Get(i)
				add(m, messageSymbol)
				for j := range m.Fields().Len() {
					add(m.Fields().Get(j), otherSymbol)
				}
				for j := range m.Oneofs().Len() {
					add(m.Oneofs().Get(j), otherSymbol)
				}
				addEnums(m.Enums())
				addExtensions(m.Extensions())
				addMessages(m.Messages())
			}
		}
		s.registry.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			pkg := string(fd.Package())
			for pkg != "" {
				syms[pkg] = packageSymbol
				i := strings.LastIndexByte(pkg, '.')
				if i < 0 {
					break
				}
				pkg = pkg[:i]
			}
			addMessages(fd.Messages())
			addEnums(fd.Enums())
			addExtensions(fd.Extensions())
			for i := range fd.Services().Len() {
				svc := fd.Services().Get(i)
				add(svc, serviceSymbol)
				for j := range svc.Methods().Len() {
					add(svc.Methods().Get(j), otherSymbol)
				}
			}
			return true
		})
		s.syms = syms
	})
	return s.syms
}

// resolve returns the full name that protobuf's compilers give the (relative) name ref
// written inside scope (the full name of the enclosing message, service or package), or
// "" when it does not resolve. The rule: the first component of ref is looked up in
// scope, then in each enclosing scope; the first hit decides. A compound name needs the
// hit to be an aggregate holding the rest (no backtracking when it does not); a simple
// name looked up as a type skips hits that are not types.
func (s *Set) resolve(scope, ref string, typesOnly bool) string {
	syms := s.symbols()
	first, rest, compound := strings.Cut(ref, ".")
	for {
		candidate := first
		if scope != "" {
			candidate = scope + "." + first
		}
		if kind, ok := syms[candidate]; ok {
			switch {
			case compound && kind.aggregate():
				full := candidate + "." + rest
				if k, ok := syms[full]; ok && (!typesOnly || k.isType()) {
					return full
				}
				return ""
			case compound:
				// Not an aggregate: keep looking outwards.
			case !typesOnly || kind.isType():
				return candidate
			}
		}
		if scope == "" {
			return ""
		}
		if i := strings.LastIndexByte(scope, '.'); i >= 0 {
			scope = scope[:i]
		} else {
			scope = ""
		}
	}
}

// typeName is the shortest name that resolves to the type fullName from scope, falling
// back to the fully qualified ".pkg.Type" form, which always does.
func (s *Set) typeName(scope, fullName string) string {
	fullName = strings.TrimPrefix(fullName, ".")
	parts := strings.Split(fullName, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		ref := strings.Join(parts[i:], ".")
		if s.resolve(scope, ref, true) == fullName {
			return ref
		}
	}
	return "." + fullName
}

// optionName is the name an option extension is written with inside scope: its full
// name when that resolves to it, else the fully qualified form.
func (s *Set) optionName(scope, fullName string) string {
	if s.resolve(scope, fullName, false) == fullName {
		return fullName
	}
	return "." + fullName
}
