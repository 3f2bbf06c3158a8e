package cli

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/gokentik/kentik"
)

// TestVersion: `kentik version` and `kentik --version` print the same lines, whatever
// the environment holds (a bad region or policy must not hide the version).
func TestVersion(t *testing.T) {
	broken := map[string]string{"KENTIK_REGION": "mars", "KENTIK_RATE_LIMIT": "fast"}
	code, byCmd, stderr := runKentik(t, broken, nil, "version")
	if code != ExitOK {
		t.Fatalf("version: exit %d\n%s", code, stderr)
	}
	code, byFlag, stderr := runKentik(t, broken, nil, "--version")
	if code != ExitOK {
		t.Fatalf("--version: exit %d\n%s", code, stderr)
	}
	if byCmd != byFlag {
		t.Errorf("version and --version differ:\n%s\n%s", byCmd, byFlag)
	}
	for _, want := range []string{"kentik ", "github.com/gokentik/kentik", kentik.UserAgent, runtime.Version(), "revision"} {
		if !strings.Contains(byCmd, want) {
			t.Errorf("%q missing from\n%s", want, byCmd)
		}
	}
	code, out, stderr := runKentik(t, nil, nil, "version", "-o", "json")
	var v versionInfo
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Library != kentik.Version || v.GoVersion == "" {
		t.Errorf("version -o json: exit %d, %+v\n%s%s", code, v, out, stderr)
	}
}

// TestBuildVersion: the module version and VCS revision come from the build
// information, when the build recorded them.
func TestBuildVersion(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "github.com/gokentik/kentik", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	s := buildVersion(bi).String()
	for _, want := range []string{"kentik v0.3.0 (github.com/gokentik/kentik)", "revision  0123456789abcdef, 2026-11-30T10:00:00Z, with uncommitted changes", "go        go1.99.1", kentik.UserAgent} {
		if !strings.Contains(s, want) {
			t.Errorf("%q missing from\n%s", want, s)
		}
	}
	if s := buildVersion(nil).String(); !strings.Contains(s, "(unknown)") || !strings.Contains(s, "revision  unknown") {
		t.Errorf("without build information:\n%s", s)
	}
}
