package kentiktest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
)

// maxResponseFile bounds one canned response file; the fake reads each whole.
const maxResponseFile = 16 << 20

// responseFile is where WithResponses looks for m's answer, relative to its directory:
// "kentik.mkp.v202407.TenantService/ListTenant.json".
func responseFile(m *v6Method) string { return m.service + "/" + m.name + ".json" }

// WithResponses programs methods with canned responses read from files under dir when
// the server starts, one file per method: dir/SERVICE/METHOD.json, where SERVICE is
// the full service name and METHOD the method's name, e.g.
//
//	dir/kentik.device.v202308beta1.DeviceService/GetDevice.json
//	dir/kentik.mkp.v202407.TenantService/ListTenant.json
//
// Each file holds the response in protobuf's JSON form (protojson: lowerCamelCase or
// the proto field names, enums by name), as `kentik api call` prints it. Every call
// of the method is then answered with it, as Server.Respond does. Files not ending in
// .json are ignored; a .json file elsewhere, one naming no public service or method,
// or one that does not parse as the method's response (an unknown field, a value of the
// wrong type) is an error that names the file and what is wrong.
func WithResponses(dir string) Option {
	return func(cf *config) error {
		ps, err := loadResponses(os.DirFS(dir), dir)
		if err != nil {
			return err
		}
		cf.programs = append(cf.programs, ps...)
		return nil
	}
}

// loadResponses reads every canned response under fsys; dir is its name in errors.
func loadResponses(fsys fs.FS, dir string) ([]program, error) {
	var out []program
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("kentiktest: responses: %w", err)
		}
		if d.IsDir() || !strings.EqualFold(path.Ext(p), ".json") {
			return nil
		}
		name := filepath.Join(dir, filepath.FromSlash(p))
		svc, file, ok := strings.Cut(p, "/")
		if !ok || strings.Contains(file, "/") {
			return fmt.Errorf("kentiktest: responses: %s: want the file at SERVICE/METHOD.json under %s (e.g. kentik.device.v202308beta1.DeviceService/GetDevice.json)", name, dir)
		}
		m, ok := v6Methods().byFull["/"+svc+"/"+strings.TrimSuffix(file, path.Ext(file))]
		if !ok {
			return fmt.Errorf("kentiktest: responses: %s: %w", name, unknownFileMethod(svc, file))
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("kentiktest: responses: %w", err)
		}
		if info.Size() > maxResponseFile {
			return fmt.Errorf("kentiktest: responses: %s: %d bytes, more than the %d a response file may have", name, info.Size(), maxResponseFile)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("kentiktest: responses: %w", err)
		}
		resp := m.out.New().Interface()
		if err := protojson.Unmarshal(b, resp); err != nil {
			return fmt.Errorf("kentiktest: responses: %s: not a %s in protobuf JSON: %w", name, m.out.Descriptor().FullName(), err)
		}
		_, h, err := canned(m.full, resp)
		if err != nil {
			return fmt.Errorf("kentiktest: responses: %s: %w", name, err)
		}
		out = append(out, program{full: m.full, h: h})
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == "." {
			return nil, fmt.Errorf("kentiktest: responses: directory %s: %w", dir, pe.Err)
		}
		return nil, err
	}
	return out, nil
}

// unknownFileMethod says why SERVICE/FILE names no public method.
func unknownFileMethod(svc, file string) error {
	method := strings.TrimSuffix(file, path.Ext(file))
	for _, s := range v6Methods().services {
		if s.Name != svc {
			continue
		}
		names := make([]string, 0, len(s.Methods))
		for _, m := range s.Methods {
			names = append(names, string(m.Desc.Name())+".json")
		}
		return fmt.Errorf("service %s has no method %s (its methods: %s)", svc, method, strings.Join(names, ", "))
	}
	return fmt.Errorf("%s is not a public v6 service (want a directory named by the full service name, e.g. kentik.device.v202308beta1.DeviceService)", svc)
}
