package schema

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// eachOptions calls fn with every options message inside a descriptor message (a file,
// a message, a field...), the descriptor it belongs to given as owner.
func eachOptions(m protoreflect.Message, fn func(owner, opts protoreflect.Message)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		visit := func(child protoreflect.Message) {
			if isOptions(child.Descriptor()) {
				fn(m, child)
				return
			}
			eachOptions(child, fn)
		}
		if fd.IsList() {
			list := v.List()
			for i := range list.Len() {
				visit(list.Get(i).Message())
			}
			return true
		}
		visit(v.Message())
		return true
	})
}

// stripDocumentation clears every documentation option inside a descriptor message and
// returns how many it cleared.
func stripDocumentation(m protoreflect.Message) int {
	n := 0
	eachOptions(m, func(_, opts protoreflect.Message) {
		var doc []protoreflect.FieldDescriptor
		opts.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if fd.IsExtension() && DocumentationOption(string(fd.FullName())) {
				doc = append(doc, fd)
			}
			return true
		})
		for _, fd := range doc {
			opts.Clear(fd)
			n++
		}
	})
	return n
}

// optionExtensions calls fn with every extension set in an options message, and in the
// message values inside it (an option's value may itself set extensions).
func optionExtensions(m protoreflect.Message, fn func(protoreflect.FieldDescriptor)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsExtension() {
			fn(fd)
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind || fd.MapValue().Kind() == protoreflect.GroupKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					optionExtensions(mv.Message(), fn)
					return true
				})
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			if fd.IsList() {
				list := v.List()
				for i := range list.Len() {
					optionExtensions(list.Get(i).Message(), fn)
				}
			} else {
				optionExtensions(v.Message(), fn)
			}
		}
		return true
	})
}
