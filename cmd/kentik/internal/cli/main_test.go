package cli

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points the user's config directory (os.UserConfigDir, for the profiles) and
// home at an empty temporary directory, for this process and the child processes it
// starts: no test reads or writes the config of whoever runs the tests.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		// A kentik child process of a kill test: it has the parent's home already, and
		// may be killed before it could remove one of its own.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "kentik-cli-test-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, k := range []string{"HOME", "XDG_CONFIG_HOME", "AppData", "USERPROFILE"} {
		os.Setenv(k, dir)
	}
	os.Unsetenv("KENTIK_CONFIG")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
