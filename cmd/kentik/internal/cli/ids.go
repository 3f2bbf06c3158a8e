package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// checkID checks one of Kentik's numeric ids (an interface, device, tenant or user id):
// a positive decimal number without leading zeros that fits in 64 bits, the only form
// Kentik gives them. Every command checks ids this way before any call, so that a
// typo is a usage error at once instead of a NOT_FOUND, an empty list or an
// INVALID_ARGUMENT that spent a call of the rate limit. what names the id in the error
// ("interface id", "--device-id"); example is a plausible value.
func checkID(what, arg, example string) (string, error) {
	id := strings.TrimSpace(arg)
	if _, err := strconv.ParseUint(id, 10, 64); err != nil || id[0] < '1' || id[0] > '9' {
		return "", usagef("%s %q: want a positive decimal number, e.g. %s", what, arg, example)
	}
	return id, nil
}

// interfaceID checks a Kentik interface id.
func interfaceID(arg string) (string, error) { return checkID("interface id", arg, "1000053") }

// parseTenantID checks a My Kentik tenant id and returns it as the V5 adapter takes it.
func parseTenantID(arg string) (int64, error) {
	id, err := checkID("tenant id", arg, "101")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, usagef("tenant id %q: want a positive decimal number below 2^63", arg)
	}
	return n, nil
}

// positionalArgs replaces cobra's "accepts 1 arg(s), received 0": it names the
// arguments that are missing or extra, from the command's Use line: the upper-case
// words after the command's name ("get ID" names ID).
func positionalArgs(cmd *cobra.Command, args []string) error {
	names := strings.Fields(cmd.Use)[1:]
	var want []string
	for _, n := range names {
		if strings.Trim(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != "" {
			break // flags and optional parts follow the positional arguments
		}
		want = append(want, n)
	}
	switch {
	case len(args) < len(want):
		missing := want[len(args):]
		return fmt.Errorf("missing %s (usage: %s)", joinAnd(missing), cmd.UseLine())
	case len(args) > len(want):
		return fmt.Errorf("too many arguments: want %s, got %q (usage: %s)", countArgs(want), args, cmd.UseLine())
	}
	return nil
}

func countArgs(want []string) string {
	if len(want) == 0 {
		return "no arguments"
	}
	return joinAnd(want)
}

// joinAnd joins names as English does: "A", "A and B", "A, B and C".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
