package kentik_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the heavy integrations out of the packages that do not need
// them (a program that imports only client compiles no Prometheus or OpenTelemetry), and
// package testing out of the kentik binary.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies with")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, pkg := range []string{".", "./client", "./mykentik", "./classify", "./interceptors", "./ratelimit", "./enums", "./kentiktest"} {
		for _, d := range deps(pkg) {
			if strings.Contains(d, "prometheus") || strings.Contains(d, "opentelemetry") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
	for _, d := range deps("./cmd/kentik") {
		if d == "testing" {
			t.Error("the kentik command links package testing")
		}
	}
}
