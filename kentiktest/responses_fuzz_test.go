package kentiktest

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"google.golang.org/protobuf/proto"
)

// A response file of any content and any name either loads as the method's response
// or is an error; it never panics.
func FuzzLoadResponses(f *testing.F) {
	f.Add("kentik.device.v202308beta1.DeviceService/GetDevice.json", `{"device": {"id": "42", "labels": [{"id": 1}]}}`)
	f.Add("kentik.mkp.v202407.TenantService/ListTenant.json", `{"tenants": [{"id": "1", "alerts": [{"thresholds": [{}]}]}], "invalidCount": 3}`)
	f.Add("kentik.device.v202308beta1.DeviceService/Nope.json", `{}`)
	f.Add("x.json", `[]`)
	f.Add("kentik.interface.v202108alpha1.InterfaceService/GetInterface.json", `{"interface": {"cdate": "2024-01-01T00:00:00Z", "connectivityType": "CONNECTIVITY_TYPE_TRANSIT"}}`)
	f.Fuzz(func(t *testing.T, name, content string) {
		if !fs.ValidPath(name) || name == "." {
			return
		}
		ps, err := loadResponses(fstest.MapFS{name: {Data: []byte(content)}}, "dir")
		if err != nil {
			return
		}
		for _, p := range ps {
			m := v6Methods().byFull[p.full]
			resp, err := p.h(t.Context(), m.in.New().Interface())
			if err != nil || resp.ProtoReflect().Descriptor() != m.out.Descriptor() {
				t.Fatalf("%s: answered %v, %v", p.full, resp, err)
			}
			if _, err := proto.Marshal(resp); err != nil {
				t.Fatalf("%s: the answer does not marshal: %v", p.full, err)
			}
		}
	})
}
