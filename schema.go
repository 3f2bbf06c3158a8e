package kentik

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	corev "github.com/gokentik/kentik/gen/kentik/core/v202303"
)

// DefaultHost is the host of every v6 service whose schema names none
// (google.api.default_host).
const DefaultHost = "grpc.api.kentik.com"

// ErrUnknownMethod is wrapped when a call names a method this program has no schema for:
// not a "/package.Service/Method" name, not of a kentik.* package, or of a service whose
// generated package the program does not import (importing it registers the schema).
var ErrUnknownMethod = errors.New("kentik: unknown method")

// Method is what the schema compiled into the program says of a v6 method: where it is
// served and whether it may be sent twice.
type Method struct {
	FullMethod string // "/kentik.interface.v202108alpha1.InterfaceService/GetInterface"
	Service    protoreflect.ServiceDescriptor
	Desc       protoreflect.MethodDescriptor
	Host       string // the service's US host: google.api.default_host, or DefaultHost
	HTTPMethod string // the verb of its google.api.http binding ("GET", "POST", ...), "" if none
	HTTPPath   string // the path template of that binding
	Scope      string // Kentik's method_scope ("admin.interface:read"), "" if none
	Idempotent bool   // see IdempotentMethod
}

var methods sync.Map // full method → *Method

// LookupMethod returns what the schema says of fullMethod ("/pkg.Service/Method"). It
// looks in protoregistry.GlobalFiles, where every generated package of gen/ registers
// its files when imported; it fails with ErrUnknownMethod for a method not there or not
// of a kentik.* package.
func LookupMethod(fullMethod string) (*Method, error) {
	if m, ok := methods.Load(fullMethod); ok {
		return m.(*Method), nil
	}
	svc, name, ok := splitMethod(fullMethod)
	if !ok || !strings.HasPrefix(svc, "kentik.") {
		return nil, fmt.Errorf("%w %q: want /kentik.PACKAGE.SERVICE/METHOD", ErrUnknownMethod, fullMethod)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("%w %q: service %s is not in this program's schema (import its generated package from github.com/gokentik/kentik/gen)", ErrUnknownMethod, fullMethod, svc)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%w %q: %s is not a service", ErrUnknownMethod, fullMethod, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("%w %q: service %s has no method %s", ErrUnknownMethod, fullMethod, svc, name)
	}
	m := describe(fullMethod, sd, md)
	actual, _ := methods.LoadOrStore(fullMethod, m)
	return actual.(*Method), nil
}

func splitMethod(fullMethod string) (service, method string, ok bool) {
	rest, ok := strings.CutPrefix(fullMethod, "/")
	if !ok {
		return "", "", false
	}
	service, method, ok = strings.Cut(rest, "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}

func describe(fullMethod string, sd protoreflect.ServiceDescriptor, md protoreflect.MethodDescriptor) *Method {
	m := &Method{FullMethod: fullMethod, Service: sd, Desc: md, Host: ServiceHost(sd)}
	if rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); ok && rule != nil {
		m.HTTPMethod, m.HTTPPath = httpBinding(rule)
	}
	if s, ok := proto.GetExtension(md.Options(), corev.E_MethodScope).(string); ok {
		m.Scope = s
	}
	m.Idempotent = idempotent(m)
	return m
}

// ServiceHost returns the US host that serves sd: its google.api.default_host, or
// DefaultHost when the schema names none.
func ServiceHost(sd protoreflect.ServiceDescriptor) string {
	if h, ok := proto.GetExtension(sd.Options(), annotations.E_DefaultHost).(string); ok && h != "" {
		return h
	}
	return DefaultHost
}

func httpBinding(r *annotations.HttpRule) (verb, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		return strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
	}
	return "", ""
}

// idempotentByMeaning lists the POST methods that set a state, so that sending one twice
// leaves what sending it once does.
var idempotentByMeaning = map[string]bool{
	"/kentik.interface.v202108alpha1.InterfaceService/ManualClassify": true, // sets the classification of the ids
}

// IdempotentMethod reports whether a v6 method may be sent again after it may have
// reached Kentik. The schema decides: a method whose google.api.http binding is GET, PUT
// or DELETE is idempotent, and so is one whose Kentik method scope is a read
// ("...:read"), whatever its verb; POST, PATCH and unbound write methods are not, but for
// a short list of POST methods that set a state (ManualClassify). A method not in the
// program's schema is not idempotent.
func IdempotentMethod(fullMethod string) bool {
	m, err := LookupMethod(fullMethod)
	return err == nil && m.Idempotent
}

func idempotent(m *Method) bool {
	switch {
	case idempotentByMeaning[m.FullMethod]:
		return true
	case strings.HasSuffix(m.Scope, ":read"):
		return true
	}
	return m.HTTPMethod == http.MethodGet || m.HTTPMethod == http.MethodPut || m.HTTPMethod == http.MethodDelete
}

// Host returns the host that serves a service of US host h in region r: h itself in the
// US; in the EU, h with its ".kentik.com" suffix turned into ".kentik.eu". Kentik
// documents grpc.api.kentik.eu; the EU names of its other hosts (mkp.api.kentik.eu,
// cloud_export.api.kentik.eu) follow the same pattern but are not documented.
func (r Region) Host(h string) string {
	if r == EU {
		if base, ok := strings.CutSuffix(h, ".kentik.com"); ok {
			return base + ".kentik.eu"
		}
	}
	return h
}

var versionRE = regexp.MustCompile(`\.v\d+(alpha|beta)?\d*$`)

// Stability returns how Kentik marks a package by its version name: "alpha"
// (v202108alpha1), "beta" (v202101beta1) or "GA" (v202303).
func Stability(pkg string) string {
	v := versionRE.FindStringSubmatch(pkg)
	switch {
	case v == nil:
		return "unknown"
	case v[1] == "":
		return "GA"
	}
	return v[1]
}
