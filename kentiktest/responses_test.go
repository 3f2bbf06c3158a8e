package kentiktest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	devicev1 "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	"github.com/gokentik/kentik/kentiktest"
)

// writeFiles writes name → content under a new directory and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWithResponses(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"kentik.device.v202308beta1.DeviceService/GetDevice.json":   `{"device": {"id": "42", "deviceName": "edge-1", "device_alias": "proto names work too"}}`,
		"kentik.device.v202308beta1.DeviceService/ListDevices.json": `{"devices": [{"id": "1"}, {"id": "2"}], "invalidCount": 1}`,
		"README.md": "files not ending in .json are ignored",
	})
	s := startOff(t, kentiktest.WithResponses(dir))
	dc := devices(t, s, s.Credentials())
	got, err := dc.GetDevice(ctx(t), &devicev1.GetDeviceRequest{Id: "9"})
	if err != nil || got.GetDevice().GetId() != "42" || got.GetDevice().GetDeviceName() != "edge-1" || got.GetDevice().GetDeviceAlias() != "proto names work too" {
		t.Fatalf("GetDevice: %v, %v", got, err)
	}
	list, err := dc.ListDevices(ctx(t), &devicev1.ListDevicesRequest{})
	if err != nil || len(list.GetDevices()) != 2 || list.GetInvalidCount() != 1 {
		t.Fatalf("ListDevices: %v, %v", list, err)
	}
}

// A bad file stops the server from starting, with an error naming the file and what
// is wrong in it.
func TestWithResponsesErrors(t *testing.T) {
	const dev = "kentik.device.v202308beta1.DeviceService"
	for name, tc := range map[string]struct {
		files map[string]string
		want  []string
	}{
		"unknown field": {map[string]string{dev + "/GetDevice.json": `{"device": {"deviceNmae": "x"}}`},
			[]string{"GetDevice.json", `unknown field "deviceNmae"`, "kentik.device.v202308beta1.GetDeviceResponse"}},
		"wrong type": {map[string]string{dev + "/ListDevices.json": `{"invalidCount": "many"}`},
			[]string{"ListDevices.json", "invalidCount"}},
		"not JSON": {map[string]string{dev + "/GetDevice.json": `device: {}`},
			[]string{"GetDevice.json", "protobuf JSON"}},
		"unknown method": {map[string]string{dev + "/GetDevices.json": `{}`},
			[]string{"GetDevices.json", "has no method GetDevices", "GetDevice.json"}},
		"unknown service": {map[string]string{"kentik.device.v1.DeviceService/GetDevice.json": `{}`},
			[]string{"kentik.device.v1.DeviceService", "not a public v6 service"}},
		"misplaced": {map[string]string{"GetDevice.json": `{}`},
			[]string{"GetDevice.json", "SERVICE/METHOD.json"}},
		"too deep": {map[string]string{dev + "/x/GetDevice.json": `{}`},
			[]string{"GetDevice.json", "SERVICE/METHOD.json"}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := kentiktest.NewServer(kentiktest.WithResponses(dir))
			if err == nil {
				t.Fatal("the server started")
			}
			for _, w := range append(tc.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	_, err := kentiktest.NewServer(kentiktest.WithResponses(filepath.Join(t.TempDir(), "missing")))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing directory: %v", err)
	}
}
