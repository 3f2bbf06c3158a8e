package schema

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Selection is what the project carries of a descriptor set: the kentik.* files that
// define a public service, and the kentik.* files those import, each reduced to what the
// project carries (see the package documentation).
type Selection struct {
	// Files are the files to write under proto/, sorted by path.
	Files []*descriptorpb.FileDescriptorProto
	// Provided are the carried kentik.* files that something other than the sync
	// defines (the option definitions under third_party/proto), reduced the same way,
	// so that they too can be compared with the reference.
	Provided []*descriptorpb.FileDescriptorProto
	// Imports are the files outside Files that Files import (Provided among them),
	// sorted.
	Imports []string
	// Services and Methods count the public services and their methods; Packages are
	// the packages that define them, sorted.
	Services, Methods int
	Packages          []string
	// Omitted lists, in a stable order, what of the set is not written and why.
	Omitted []Omission
	// DocumentationOptions counts the documentation options left out, UnusedImports
	// the imports left out because nothing in their file uses them.
	DocumentationOptions, UnusedImports int
}

// Omission is one thing of the set the sync does not write.
type Omission struct {
	Kind   string // "service" or "file"
	Name   string // a service's full name, a file's path
	Reason string
}

func (o Omission) String() string { return o.Kind + " " + o.Name + ": " + o.Reason }

// kentikFile reports whether a file is one of Kentik's own (a kentik.* package).
func kentikFile(f *descriptorpb.FileDescriptorProto) bool {
	return f.GetPackage() == "kentik" || strings.HasPrefix(f.GetPackage(), "kentik.")
}

// Select picks what the project carries of set. provided reports whether a file is
// defined outside the files the sync writes (under third_party/proto, or by buf for
// protobuf's well-known types); a carried kentik.* file that is provided is not written,
// and every other file a written one imports must be provided.
func Select(set *Set, provided func(path string) bool) (*Selection, error) {
	s := &selector{
		set: set, provided: provided, sel: &Selection{},
		reduced: map[string]*descriptorpb.FileDescriptorProto{}, dropped: map[string][]string{},
		docOptions: map[string]int{}, unusedImports: map[string]int{}, packages: map[string]bool{},
		carried: map[string]bool{}, importedBy: map[string]string{}, imports: map[string]bool{},
	}
	if err := s.reduceAll(); err != nil {
		return nil, err
	}
	if len(s.roots) == 0 {
		return nil, fmt.Errorf("the descriptor set defines no service whose %s is %s", VisibilityOption, PublicVisibility)
	}
	if err := s.closure(); err != nil {
		return nil, err
	}
	s.classify()
	s.finish()
	return s.sel, nil
}

// selector holds the state of one Select.
type selector struct {
	set      *Set
	provided func(string) bool
	sel      *Selection

	reduced       map[string]*descriptorpb.FileDescriptorProto // every kentik.* file, reduced
	dropped       map[string][]string                          // path -> its non-public services
	docOptions    map[string]int                               // path -> documentation options left out
	unusedImports map[string]int                               // path -> imports left out
	roots         []string                                     // the files with public services
	packages      map[string]bool                              // their packages

	carried    map[string]bool   // the roots and the kentik.* files they import
	importedBy map[string]string // a carried file -> the first file found importing it
	imports    map[string]bool   // the other files the carried ones import
}

// reduceAll reduces every kentik.* file of the set to what the project carries of it.
func (s *selector) reduceAll() error {
	for _, f := range s.set.Files() {
		if !kentikFile(f) {
			continue
		}
		r := proto.Clone(f).(*descriptorpb.FileDescriptorProto)
		r.SourceCodeInfo = nil
		r.Options = nil
		var public []*descriptorpb.ServiceDescriptorProto
		for _, svc := range r.GetService() {
			vis := s.set.serviceVisibility(svc)
			if vis == PublicVisibility {
				public = append(public, svc)
				continue
			}
			name := qualify(r.GetPackage(), svc.GetName())
			s.dropped[r.GetName()] = append(s.dropped[r.GetName()], name)
			reason := "visibility " + vis + ", not " + PublicVisibility
			if vis == "" {
				reason = "no " + VisibilityOption + " option, so not " + PublicVisibility
			}
			s.sel.Omitted = append(s.sel.Omitted, Omission{Kind: "service", Name: name, Reason: reason})
		}
		r.Service = public
		s.docOptions[r.GetName()] = stripDocumentation(r.ProtoReflect())
		unused, err := s.set.pruneImports(r)
		if err != nil {
			return err
		}
		s.unusedImports[r.GetName()] = unused
		s.reduced[r.GetName()] = r
		if len(public) > 0 {
			s.roots = append(s.roots, r.GetName())
			s.packages[r.GetPackage()] = true
			s.sel.Services += len(public)
			for _, svc := range public {
				s.sel.Methods += len(svc.GetMethod())
			}
		}
	}
	return nil
}

// closure finds the kentik.* files the roots import, over the imports that are used.
func (s *selector) closure() error {
	queue := slices.Clone(s.roots)
	for _, p := range s.roots {
		s.carried[p] = true
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, dep := range s.reduced[p].GetDependency() {
			if s.reduced[dep] == nil {
				if !s.provided(dep) {
					return fmt.Errorf("%s imports %s, which is neither one of Kentik's files nor provided (define it under third_party/proto)", p, dep)
				}
				s.imports[dep] = true
				continue
			}
			if !s.carried[dep] {
				s.carried[dep] = true
				s.importedBy[dep] = p
				queue = append(queue, dep)
			}
		}
	}
	return nil
}

// classify sorts every file of the set into written, provided or left out (and why).
func (s *selector) classify() {
	sel := s.sel
	for _, p := range s.set.Paths() {
		r, kentik := s.reduced[p]
		carried := s.carried[p]
		if carried {
			sel.DocumentationOptions += s.docOptions[p]
			sel.UnusedImports += s.unusedImports[p]
		}
		switch {
		case kentik && carried && s.provided(p):
			sel.Provided = append(sel.Provided, r)
			sel.Omitted = append(sel.Omitted, Omission{Kind: "file", Name: p, Reason: "provided outside the written files (option definitions)"})
		case kentik && carried:
			sel.Files = append(sel.Files, r)
			s.explainKept(p, r)
		case kentik:
			reason := "defines no public service, and no carried file imports it"
			if n := len(s.dropped[p]); n > 0 {
				reason = fmt.Sprintf("its %d service(s) are not public, and no carried file imports it", n)
			}
			sel.Omitted = append(sel.Omitted, Omission{Kind: "file", Name: p, Reason: reason})
		case s.imports[p]:
			// Imported and provided: not an omission.
		case DocumentationFile(p):
			sel.Omitted = append(sel.Omitted, Omission{Kind: "file", Name: p, Reason: "defines documentation options only"})
		default:
			sel.Omitted = append(sel.Omitted, Omission{Kind: "file", Name: p, Reason: "no carried file imports it"})
		}
	}
}

// explainKept says, for each service dropped from a written file, why its file is
// written all the same.
func (s *selector) explainKept(path string, r *descriptorpb.FileDescriptorProto) {
	dropped := s.dropped[path]
	if len(dropped) == 0 {
		return
	}
	why := "defines public services too"
	if len(r.GetService()) == 0 {
		why = "imported by " + s.importedBy[path]
	}
	for i, o := range s.sel.Omitted {
		if o.Kind == "service" && slices.Contains(dropped, o.Name) {
			s.sel.Omitted[i].Reason += "; its file is written without it (" + why + ")"
		}
	}
}

// finish fills in the sorted summaries.
func (s *selector) finish() {
	sel := s.sel
	written := map[string]bool{}
	for _, f := range sel.Files {
		written[f.GetName()] = true
	}
	for _, f := range sel.Files {
		for _, dep := range f.GetDependency() {
			if !written[dep] && !slices.Contains(sel.Imports, dep) {
				sel.Imports = append(sel.Imports, dep)
			}
		}
	}
	sort.Strings(sel.Imports)
	for p := range s.packages {
		sel.Packages = append(sel.Packages, p)
	}
	sort.Strings(sel.Packages)
	sort.SliceStable(sel.Omitted, func(i, j int) bool {
		if sel.Omitted[i].Kind != sel.Omitted[j].Kind {
			return sel.Omitted[i].Kind > sel.Omitted[j].Kind // services first
		}
		return sel.Omitted[i].Name < sel.Omitted[j].Name
	})
}

// serviceVisibility returns the name of a service's visibility option value, or "".
func (s *Set) serviceVisibility(svc *descriptorpb.ServiceDescriptorProto) string {
	xt, err := s.types.FindExtensionByName(VisibilityOption)
	if err != nil || svc.GetOptions() == nil {
		return ""
	}
	xd := xt.TypeDescriptor()
	opts := svc.GetOptions().ProtoReflect()
	if xd.Kind() != protoreflect.EnumKind || !opts.Has(xd) {
		return ""
	}
	n := opts.Get(xd).Enum()
	if v := xd.Enum().Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return fmt.Sprint(n)
}

// pruneImports drops the imports of f that nothing in f uses (after its non-public
// services and documentation options are gone) and returns how many it dropped.
func (s *Set) pruneImports(f *descriptorpb.FileDescriptorProto) (int, error) {
	used, err := s.usedFiles(f)
	if err != nil {
		return 0, err
	}
	old := f.GetDependency()
	public, weak := importKinds(f)
	var deps []string
	var newPublic, newWeak []int32
	for i, dep := range old {
		if !s.defines(dep, used, map[string]bool{}) {
			continue
		}
		if public[int32(i)] {
			newPublic = append(newPublic, int32(len(deps)))
		}
		if weak[int32(i)] {
			newWeak = append(newWeak, int32(len(deps)))
		}
		deps = append(deps, dep)
	}
	f.Dependency, f.PublicDependency, f.WeakDependency = deps, newPublic, newWeak
	return len(old) - len(deps), nil
}

// importKinds returns the indexes (in f's dependency list) of f's public imports and of
// its weak ones.
func importKinds(f *descriptorpb.FileDescriptorProto) (public, weak map[int32]bool) {
	public, weak = map[int32]bool{}, map[int32]bool{}
	for _, i := range f.GetPublicDependency() {
		public[i] = true
	}
	for _, i := range f.GetWeakDependency() {
		weak[i] = true
	}
	return public, weak
}

// usedFiles returns the files that define what f refers to: the types of its fields,
// methods and extensions, and the option extensions it sets.
func (s *Set) usedFiles(f *descriptorpb.FileDescriptorProto) (map[string]bool, error) {
	used := map[string]bool{}
	var missing []string
	use := func(fullName string) {
		fullName = strings.TrimPrefix(fullName, ".")
		if fullName == "" {
			return
		}
		d, err := s.Descriptor(fullName)
		if err != nil {
			missing = append(missing, fullName)
			return
		}
		used[d.ParentFile().Path()] = true
	}
	var walkMessage func(m *descriptorpb.DescriptorProto)
	walkFields := func(fields []*descriptorpb.FieldDescriptorProto) {
		for _, fd := range fields {
			use(fd.GetTypeName())
			use(fd.GetExtendee())
		}
	}
	walkMessage = func(m *descriptorpb.DescriptorProto) {
		walkFields(m.GetField())
		walkFields(m.GetExtension())
		for _, n := range m.GetNestedType() {
			walkMessage(n)
		}
	}
	for _, m := range f.GetMessageType() {
		walkMessage(m)
	}
	walkFields(f.GetExtension())
	for _, svc := range f.GetService() {
		for _, m := range svc.GetMethod() {
			use(m.GetInputType())
			use(m.GetOutputType())
		}
	}
	eachOptions(f.ProtoReflect(), func(_, opts protoreflect.Message) {
		optionExtensions(opts, func(xd protoreflect.FieldDescriptor) { use(string(xd.FullName())) })
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s refers to %s, which no file of the set defines", f.GetName(), strings.Join(missing, ", "))
	}
	return used, nil
}

// defines reports whether the file at path, or a file it imports publicly, is among used.
func (s *Set) defines(path string, used, seen map[string]bool) bool {
	if used[path] {
		return true
	}
	if seen[path] {
		return false
	}
	seen[path] = true
	f := s.File(path)
	for _, i := range f.GetPublicDependency() {
		if int(i) < len(f.GetDependency()) && s.defines(f.GetDependency()[i], used, seen) {
			return true
		}
	}
	return false
}

func qualify(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}
