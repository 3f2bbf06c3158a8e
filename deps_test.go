package kentik_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the heavy integrations out of the packages that do not need
// them (a program that imports only client compiles no Prometheus, OpenTelemetry or
// Redis client), and package testing out of the kentik binary.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies with")
	}
	deps := func(pkgs ...string) []string {
		out, err := exec.Command(goTool, append([]string{"list", "-deps"}, pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", strings.Join(pkgs, " "), err)
		}
		return strings.Fields(string(out))
	}
	for _, pkg := range []string{".", "./client", "./mykentik", "./classify", "./interceptors", "./ratelimit", "./enums", "./kentiktest"} {
		for _, d := range deps(pkg) {
			if strings.Contains(d, "prometheus") || strings.Contains(d, "opentelemetry") || strings.Contains(d, "go-redis") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
	// grpc-gateway serves the v6 REST mapping in kentiktest only: its generated
	// handlers live apart from the messages (gen/gateway), so that no program using the
	// client or gen/ links its runtime.
	out, err := exec.Command(goTool, "list", "./gen/...").Output()
	if err != nil {
		t.Fatalf("go list ./gen/...: %v", err)
	}
	var gen []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.Contains(p, "/gen/gateway/") {
			gen = append(gen, p)
		}
	}
	for _, pkgs := range [][]string{{"."}, {"./client"}, {"./mykentik"}, {"./classify"}, {"./interceptors"}, {"./ratelimit"}, {"./services"}, gen} {
		for _, d := range deps(pkgs...) {
			if strings.Contains(d, "grpc-gateway") {
				t.Errorf("%s depends on %s", pkgs[0], d)
				break
			}
		}
	}
	for _, d := range deps("./cmd/kentik") {
		if d == "testing" {
			t.Error("the kentik command links package testing")
		}
	}
}
