package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gokentik/kentik/ratelimit"
)

// flagError rewrites pflag's errors about flag values and unknown flags (cobra's
// FlagErrorFunc): a bad value is named with what the flag wants instead of a
// strconv error ("--snmp-speed "fast": want whole numbers ..."), and an unknown flag
// comes with the nearest known one.
func flagError(cmd *cobra.Command, err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		f := ive.GetFlag()
		return fmt.Errorf("--%s %q: want %s", f.Name, ive.GetValue(), wantOf(f))
	}
	var ne *pflag.NotExistError
	if errors.As(err, &ne) && ne.GetSpecifiedShortnames() == "" {
		if s := nearestFlag(cmd, ne.GetSpecifiedName()); s != "" {
			return fmt.Errorf("%w (did you mean --%s?)", err, s)
		}
	}
	return err
}

// wantOf says in words what values a flag of f's type takes.
func wantOf(f *pflag.Flag) string {
	switch t := f.Value.Type(); t {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "intSlice", "int32Slice", "int64Slice", "uintSlice":
		return "whole numbers, repeated or comma-separated"
	case "float32", "float64":
		return "a number"
	case "duration":
		return "a duration such as 500ms, 30s or 2m"
	case "bool":
		return "true or false"
	default:
		return "a " + t
	}
}

// nearestFlag returns the name of the flag cmd knows that is nearest to name, when it
// is close enough to be a typo of it.
func nearestFlag(cmd *cobra.Command, name string) string {
	best, bestD := "", 3 // at most two edits
	visit := func(f *pflag.Flag) {
		if d := editDistance(name, f.Name); d < bestD || d == bestD && f.Name < best {
			best, bestD = f.Name, d
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes; flag names are ASCII).
// Cobra has one for command suggestions but does not export it.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownFlagBefore finds, in args, an unknown flag that comes before or among the
// command words. Cobra looks the command up before it parses flags, and takes the word
// after an unknown flag for that flag's value: `kentik --plaintex interfaces list`
// makes it report the unknown command "list". It returns the flag as written, or "".
func unknownFlagBefore(root *cobra.Command, args []string) string {
	c := root
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case a == "-" || !strings.HasPrefix(a, "-"):
			next := subcommand(c, a)
			if next == nil {
				return "" // an argument, or a command cobra reports rightly
			}
			c = next
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			continue
		}
		var f *pflag.Flag
		if strings.HasPrefix(a, "--") {
			f = lookupFlag(c, name)
		} else if name != "" {
			f = lookupShorthand(c, name[:1])
			hasValue = hasValue || len(name) > 1 // -ojson
		}
		if f == nil {
			if name, _, _ := strings.Cut(a, "="); name != "" {
				return name
			}
			return a
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag takes the next word as its value
		}
	}
	return ""
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

func lookupFlag(c *cobra.Command, name string) *pflag.Flag {
	if f := c.Flags().Lookup(name); f != nil {
		return f
	}
	if f := c.PersistentFlags().Lookup(name); f != nil {
		return f
	}
	return c.InheritedFlags().Lookup(name)
}

func lookupShorthand(c *cobra.Command, s string) *pflag.Flag {
	if f := c.Flags().ShorthandLookup(s); f != nil {
		return f
	}
	if f := c.PersistentFlags().ShorthandLookup(s); f != nil {
		return f
	}
	return c.InheritedFlags().ShorthandLookup(s)
}

// unknownFlagError is what run reports instead of cobra's "unknown command" when an
// unknown flag before the command words is the cause.
func unknownFlagError(root *cobra.Command, args []string) error {
	flag := unknownFlagBefore(root, args)
	if flag == "" {
		return nil
	}
	err := fmt.Errorf("unknown flag: %s", flag)
	if strings.HasPrefix(flag, "--") {
		if s := nearestFlag(root, strings.TrimPrefix(flag, "--")); s != "" {
			err = fmt.Errorf("%w (did you mean --%s?)", err, s)
		}
	}
	return err
}

// policyForms lists the rate-limit policies a user can write, for error messages.
const policyForms = `off, admin (Kentik's published limits for admin calls), query, or a custom list such as "concurrency=1,60/1m,3750/1h" (a concurrency cap and N/DURATION rolling windows)`

// parsePolicy parses a rate-limit policy that came from source (a flag, an
// environment variable or a profile), with a usage error that lists the accepted forms.
func parsePolicy(source, s string) (ratelimit.Policy, error) {
	p, err := ratelimit.Parse(s)
	if err == nil {
		return p, nil
	}
	detail := err.Error()
	var pe *ratelimit.ParseError
	if errors.As(err, &pe) {
		detail = pe.Reason
		if pe.Element != "" && pe.Element != s {
			detail = fmt.Sprintf("%q: %s", pe.Element, pe.Reason)
		}
	}
	return p, usagef("%s %q: want %s; %s", source, s, policyForms, detail)
}
