package cli

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik/enums"
)

// completionFunc offers the values of one flag.
type completionFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// fixedValues offers the given values, and no file names.
func fixedValues(values ...string) completionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// flagCompletions returns, by flag name, what shell completion offers for it: the
// enum values of the enum flags (as enums names them), and the few values the other
// flags take. One table for every command that has one of these flags.
func (g *Globals) flagCompletions() map[string]completionFunc {
	policies := fixedValues("off", "admin", "query", "concurrency=1,60/1m,3750/1h")
	return map[string]completionFunc{
		"connectivity-type": fixedValues(enums.ConnectivityTypeNames()...),
		"network-boundary":  fixedValues(enums.NetworkBoundaryNames()...),
		"ip-type":           fixedValues(enums.IPFilterNames()...),
		"region":            fixedValues("us", "eu"),
		"rate-limit":        policies,
		"v5-rate-limit":     policies,
		"format":            fixedValues("auto", "csv", "jsonl"),
		"output": func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			return outputs(cmd), cobra.ShellCompDirectiveNoFileComp
		},
		"profile": func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return g.profileNames(), cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// registerCompletions registers flagCompletions on every command of the tree that
// defines one of those flags.
func (g *Globals) registerCompletions(root *cobra.Command) {
	table := g.flagCompletions()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for name, f := range table {
			if c.LocalFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, f) // only fails for a flag registered twice
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// profileNames lists the profiles of the config file (none when it cannot be read).
func (g *Globals) profileNames() []string {
	path, err := g.configPath()
	if err != nil {
		return nil
	}
	c, err := loadConfig(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) || c == nil {
		return nil
	}
	return c.names()
}

// isCompletion reports whether cmd is cobra's completion machinery (the hidden
// __complete commands or the completion scripts), which needs no settings.
func isCompletion(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if strings.HasPrefix(c.Name(), "__complete") || c.Name() == "completion" && c.Parent() != nil && c.Parent().Parent() == nil {
			return true
		}
	}
	return false
}
