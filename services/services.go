// Package services puts the schema of every public Kentik v6 service into a program and
// lists the services: importing it imports every generated package of gen/ (each
// registers its files with protoregistry.GlobalFiles), so that kentik.LookupMethod, the
// client's routing and retries, and tools such as `kentik api` know every method without a
// schema file. A program that calls a few services needs only their own generated
// packages; this one is for programs that reach any method by name.
package services

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/gokentik/kentik"
	corev "github.com/gokentik/kentik/gen/kentik/core/v202303"
)

// Service is one public v6 service as the schema compiled into the program describes it.
type Service struct {
	Name      string // "kentik.device.v202308beta1.DeviceService"
	Package   string // "kentik.device.v202308beta1"
	Host      string // its US host (kentik.ServiceHost)
	Stability string // "GA", "beta" or "alpha" (kentik.Stability)
	Desc      protoreflect.ServiceDescriptor
	Methods   []*kentik.Method // in schema order
}

var (
	once sync.Once
	all  []*Service
)

// All returns every public Kentik service, sorted by name. The slice and its values are
// shared: do not modify them.
func All() []*Service {
	once.Do(func() { all = collect() })
	return all
}

// Lookup returns the service of that full name, or nil.
func Lookup(name string) *Service {
	ss := All()
	i, ok := slices.BinarySearchFunc(ss, name, func(s *Service, n string) int { return cmp.Compare(s.Name, n) })
	if !ok {
		return nil
	}
	return ss[i]
}

func collect() []*Service {
	var out []*Service
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kentik.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			if v, _ := proto.GetExtension(sd.Options(), corev.E_Visibility).(corev.ServiceVisibility); v != corev.ServiceVisibility_SERVICE_VISIBILITY_PUBLIC {
				continue
			}
			s := &Service{
				Name:      string(sd.FullName()),
				Package:   string(fd.Package()),
				Host:      kentik.ServiceHost(sd),
				Stability: kentik.Stability(string(fd.Package())),
				Desc:      sd,
			}
			for j := range sd.Methods().Len() {
				m, err := kentik.LookupMethod("/" + s.Name + "/" + string(sd.Methods().Get(j).Name()))
				if err == nil {
					s.Methods = append(s.Methods, m)
				}
			}
			out = append(out, s)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *Service) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
