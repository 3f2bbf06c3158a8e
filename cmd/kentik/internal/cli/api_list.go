package cli

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik"
	corev "github.com/gokentik/kentik/gen/kentik/core/v202303"
	"github.com/gokentik/kentik/services"
)

func newAPIListCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list [PATTERN]",
		Short: "List the public v6 services and their methods",
		Long: `List the public services of Kentik's v6 APIs and their methods, from the schema compiled
into this program, with for each service its stability (GA, beta or alpha, from its
version) and the host that serves it in the region, and for each method:

  ACCESS      read or write, from its Kentik method scope (or its HTTP verb)
  IDEMPOTENT  whether the client may send it again after a failure that may have reached
              Kentik (GET, PUT and DELETE bindings, read scopes, and ManualClassify)
  SCOPE       its Kentik method scope
  LIMIT       the rate-limit class its calls are counted in (--rate-limit applies to it)
  HTTP        the verb and path of its REST binding

PATTERN selects methods. Without any of * ? [ it is a substring of the method's full name
(kentik.PACKAGE.Service.Method), ignoring case. With them it is a glob (* matches any
text, ? one character, [a-z] a class) that must match, ignoring case, the whole of one of:
the package, the service's full or short name, the method's full name,
Service.Method, or the method's name.

-o json writes {"region": ..., "services": [{"name", "package", "stability", "host",
"methods": [{"name", "full_method", "input", "output", "access", "idempotent",
"scope", "limit_class", "http": {"method", "path"}, ...}]}]}.`,
		Example: `  kentik api list                       # every public service and method
  kentik api list interface             # substring: InterfaceService, GetInterface, ...
  kentik api list 'kentik.device.*'     # every version of the device package
  kentik api list '*Service.List*' -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			pattern := ""
			if len(args) == 1 {
				pattern = args[0]
			}
			return runAPIList(g, pattern)
		},
	}
}

// apiListJSON is what api list -o json writes.
type apiListJSON struct {
	Region   string           `json:"region"`
	Services []apiServiceJSON `json:"services"`
}

type apiServiceJSON struct {
	Name      string          `json:"name"`      // kentik.interface.v202108alpha1.InterfaceService
	Package   string          `json:"package"`   // kentik.interface.v202108alpha1
	Stability string          `json:"stability"` // GA, beta or alpha
	Host      string          `json:"host"`      // in the region
	Methods   []apiMethodJSON `json:"methods"`
}

type apiMethodJSON struct {
	Name            string       `json:"name"`        // ListInterface
	FullMethod      string       `json:"full_method"` // /kentik.interface.v202108alpha1.InterfaceService/ListInterface
	Input           string       `json:"input"`       // the request message's full name
	Output          string       `json:"output"`      // the response message's full name
	Access          string       `json:"access"`      // read or write
	Idempotent      bool         `json:"idempotent"`
	Scope           string       `json:"scope,omitempty"`
	LimitClass      string       `json:"limit_class"`
	HTTP            *apiHTTPJSON `json:"http,omitempty"`
	ClientStreaming bool         `json:"client_streaming,omitempty"`
	ServerStreaming bool         `json:"server_streaming,omitempty"`
	Private         bool         `json:"private,omitempty"` // Kentik marks it private
}

type apiHTTPJSON struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

func runAPIList(g *Globals, pattern string) error {
	match, err := methodMatcher(pattern)
	if err != nil {
		return err
	}
	region, _ := kentik.ParseRegion(g.Region) // checked by resolve
	out := apiListJSON{Region: region.String(), Services: []apiServiceJSON{}}
	methods := 0
	for _, s := range services.All() {
		js := apiServiceJSON{Name: s.Name, Package: s.Package, Stability: s.Stability, Host: region.Host(s.Host)}
		for _, m := range s.Methods {
			if match(s, m) {
				js.Methods = append(js.Methods, apiMethodInfo(m))
			}
		}
		if len(js.Methods) > 0 {
			out.Services = append(out.Services, js)
			methods += len(js.Methods)
		}
	}
	if g.JSON() {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if err := writeAPIList(g, out); err != nil {
		return err
	}
	fmt.Fprintf(g.Stderr, "%d method%s of %d service%s\n", methods, plural(methods), len(out.Services), plural(len(out.Services)))
	if g.GRPCEndpoint != "" {
		fmt.Fprintf(g.Stderr, "every call goes to %s (from %s), whatever the host\n", g.GRPCEndpoint, g.source("grpc-endpoint"))
	}
	return nil
}

// apiMethodInfo is what api list says of m.
func apiMethodInfo(m *kentik.Method) apiMethodJSON {
	j := apiMethodJSON{
		Name:            string(m.Desc.Name()),
		FullMethod:      m.FullMethod,
		Input:           string(m.Desc.Input().FullName()),
		Output:          string(m.Desc.Output().FullName()),
		Access:          apiAccess(m),
		Idempotent:      m.Idempotent,
		Scope:           m.Scope,
		LimitClass:      apiLimitClass(m),
		ClientStreaming: m.Desc.IsStreamingClient(),
		ServerStreaming: m.Desc.IsStreamingServer(),
		Private:         apiPrivate(m),
	}
	if m.HTTPMethod != "" {
		j.HTTP = &apiHTTPJSON{Method: m.HTTPMethod, Path: m.HTTPPath}
	}
	return j
}

// apiPrivate reports whether Kentik marks the method private (method_visibility).
func apiPrivate(m *kentik.Method) bool {
	v, _ := proto.GetExtension(m.Desc.Options(), corev.E_MethodVisibility).(corev.MethodVisibility)
	return v == corev.MethodVisibility_METHOD_VISIBILITY_PRIVATE
}

// writeAPIList prints one block per service: a line naming it, then its methods.
func writeAPIList(g *Globals, l apiListJSON) error {
	for i, s := range l.Services {
		if i > 0 {
			fmt.Fprintln(g.Stdout)
		}
		fmt.Fprintf(g.Stdout, "%s (%s, %s)\n", s.Name, s.Stability, s.Host)
		rows := make([][]string, 0, len(s.Methods))
		for _, m := range s.Methods {
			name, idem, http := m.Name, "no", ""
			if m.Private {
				name += " (private)"
			}
			if m.Idempotent {
				idem = "yes"
			}
			if m.HTTP != nil {
				http = m.HTTP.Method + " " + m.HTTP.Path
			}
			stream := ""
			switch {
			case m.ClientStreaming && m.ServerStreaming:
				stream = " (bidi stream)"
			case m.ClientStreaming:
				stream = " (client stream)"
			case m.ServerStreaming:
				stream = " (server stream)"
			}
			rows = append(rows, []string{"  " + name + stream, m.Access, idem, m.Scope, m.LimitClass, http})
		}
		if err := writeTable(g.Stdout, []string{"  METHOD", "ACCESS", "IDEMPOTENT", "SCOPE", "LIMIT", "HTTP"}, rows); err != nil {
			return err
		}
	}
	return nil
}

// methodMatcher returns the test of api list's PATTERN (see its help): a substring, or a
// glob when the pattern has any of * ? [.
func methodMatcher(pattern string) (func(*services.Service, *kentik.Method) bool, error) {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if p == "" {
		return func(*services.Service, *kentik.Method) bool { return true }, nil
	}
	if !strings.ContainsAny(p, "*?[") {
		return func(s *services.Service, m *kentik.Method) bool {
			return strings.Contains(strings.ToLower(string(m.Desc.FullName())), p)
		}, nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return nil, usagef("PATTERN %q: %v: want a glob such as 'kentik.device.*' or '*Service.List*'", pattern, err)
	}
	return func(s *services.Service, m *kentik.Method) bool {
		name := string(m.Desc.Name())
		for _, c := range []string{s.Package, s.Name, string(s.Desc.Name()), string(m.Desc.FullName()), string(s.Desc.Name()) + "." + name, name} {
			if ok, _ := path.Match(p, strings.ToLower(c)); ok {
				return true
			}
		}
		return false
	}, nil
}
