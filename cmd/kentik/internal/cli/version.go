package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik"
)

// versionInfo is what `kentik version` and `kentik --version` print.
type versionInfo struct {
	Module    string `json:"module"`          // the main module's path
	Version   string `json:"version"`         // its version: a tag, a pseudo-version or "(devel)"
	Revision  string `json:"revision"`        // the VCS revision, "" when the build did not record it
	Time      string `json:"revision_time"`   // the revision's commit time (RFC 3339)
	Modified  bool   `json:"modified"`        // the working tree had changes
	GoVersion string `json:"go_version"`      // the Go release that built the binary
	Platform  string `json:"platform"`        // GOOS/GOARCH
	Library   string `json:"library_version"` // kentik.Version
	UserAgent string `json:"user_agent"`      // the product token sent on every call
}

// buildVersion reads the binary's build information (nil when it has none, as in a
// binary built without module support).
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		Module:    "github.com/gokentik/kentik",
		Version:   "(unknown)",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Library:   kentik.Version,
		UserAgent: kentik.UserAgent,
	}
	if bi == nil {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// currentVersion is the running binary's versionInfo.
func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi)
}

// String renders v on a few lines, as `kentik --version` prints it.
func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kentik %s (%s)\n", v.Version, v.Module)
	switch {
	case v.Revision == "":
		b.WriteString("revision  unknown (built without version control information, e.g. with -buildvcs=false)\n")
	default:
		rev := v.Revision
		if v.Time != "" {
			rev += ", " + v.Time
		}
		if v.Modified {
			rev += ", with uncommitted changes"
		}
		fmt.Fprintf(&b, "revision  %s\n", rev)
	}
	fmt.Fprintf(&b, "library   %s (user agent %s)\n", v.Library, v.UserAgent)
	fmt.Fprintf(&b, "go        %s %s\n", v.GoVersion, v.Platform)
	return b.String()
}

func newVersionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the version of the command, of the library and of Go",
		Long: `Show the kentik command's module version and VCS revision (from the binary's build
information), the library version it sends in its user agent, and the Go release that
built it. -o json prints the same as one JSON document.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotationSettings: settingsNone},
		RunE: func(*cobra.Command, []string) error {
			v := currentVersion()
			if g.JSON() {
				return writeJSON(g.Stdout, v)
			}
			_, err := io.WriteString(g.Stdout, v.String())
			return err
		},
	}
}
