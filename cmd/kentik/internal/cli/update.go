package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

type updateFlags struct {
	sets    []string
	file    string
	replace bool
	yes     bool
}

func newInterfacesUpdateCmd(g *Globals) *cobra.Command {
	var o updateFlags
	cmd := &cobra.Command{
		Use:   "update ID (--set FIELD=VALUE ... | --file FILE)",
		Short: "Change some fields of an interface, or replace it from a JSON file",
		Long: `Update interface ID (UpdateInterface). Kentik's UpdateInterface replaces every attribute
of the interface, so the command reads the interface first and sends it back whole:

  --set FIELD=VALUE (repeatable) changes only the fields named. FIELD is a field of the
  Interface message, in snake_case or camelCase (provider, connectivity_type,
  networkBoundary, interface_description, snmp_speed, ...); enum values are taken as the
  filter flags take them (transit, paid-pni, external); an empty VALUE clears the field.

  --file FILE (or - for stdin) sends the Interface in FILE, in Kentik's JSON form. A file
  that would clear fields the interface has (a file holding only the changed fields
  does) is refused, naming those fields, unless --replace is given.

On a terminal the command shows what will change and asks before it writes; --yes
skips the question. Without a terminal it writes without asking. An update that changes
nothing is not sent.`,
		Example: `  kentik interfaces update 1000053 --set provider=Zayo --set connectivity_type=transit
  kentik interfaces update 1000053 --set snmp_alias= --yes
  kentik interfaces get 1000053 -o json | jq '.interface | .provider = "ExampleNet"' | kentik interfaces update 1000053 -f -`,
		Args: positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := interfaceID(args[0])
			if err != nil {
				return err
			}
			return runInterfacesUpdate(cmd.Context(), g, id, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.sets, "set", nil, "FIELD=VALUE: change one field, keeping the others (repeatable)")
	f.StringVarP(&o.file, "file", "f", "", "the whole interface as JSON, or - for stdin")
	f.BoolVar(&o.replace, "replace", false, "with --file: clear the fields the file leaves out")
	f.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	cmd.MarkFlagsMutuallyExclusive("set", "file")
	cmd.MarkFlagsOneRequired("set", "file")
	_ = cmd.RegisterFlagCompletionFunc("set", completeSet)
	return cmd
}

// runInterfacesUpdate reads the interface, builds the new one from --set or --file,
// shows the change and asks on a terminal, and writes it. Each call has its own
// --timeout; the question has none.
func runInterfacesUpdate(ctx context.Context, g *Globals, id string, o updateFlags) error {
	if o.replace && o.file == "" {
		return usagef("--replace goes with --file (--set never clears a field it does not name)")
	}
	var fromFile *ifacev1.Interface
	if o.file != "" {
		var err error
		if fromFile, err = readInterface(ctx, g, o.file); err != nil {
			return err
		}
		if fromFile.GetId() != "" && fromFile.GetId() != id {
			return usagef("update %s: the file is interface %q; remove its id or use that id", id, fromFile.GetId())
		}
		fromFile.Id = id
	}
	next := &ifacev1.Interface{} // checked before any call
	seen := map[string]bool{}
	for _, s := range o.sets {
		fd, err := setField(next, s)
		if err != nil {
			return err
		}
		if seen[string(fd.Name())] {
			return usagef("--set %s is given twice", fd.Name())
		}
		seen[string(fd.Name())] = true
	}

	c, err := g.dialGRPC(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ic := c.Interfaces()
	cctx, cancel := g.callContext(ctx)
	got, err := ic.GetInterface(cctx, &ifacev1.GetInterfaceRequest{Id: id})
	cancel()
	if err != nil {
		return fmt.Errorf("%w (reading interface %s before the update; nothing was changed)", err, id)
	}
	current := got.GetInterface()
	if fromFile != nil {
		if cleared := clearedFields(current, fromFile); len(cleared) > 0 && !o.replace {
			return usagef("update %s: the file would clear %d field%s the interface has: %s. UpdateInterface replaces the whole interface: put them in the file, change single fields with --set, or give --replace to clear them",
				id, len(cleared), plural(len(cleared)), strings.Join(cleared, ", "))
		}
		next = fromFile
	} else {
		merged := proto.CloneOf(current)
		for name := range seen {
			fd := interfaceField(name)
			merged.ProtoReflect().Set(fd, next.ProtoReflect().Get(fd))
		}
		next = merged
	}
	next.Id = id

	changes := changedFields(current, next)
	if len(changes) == 0 {
		fmt.Fprintf(g.Stderr, "interface %s: nothing to change\n", id)
		return g.writeInterfaceResponse(&ifacev1.UpdateInterfaceResponse{Interface: current})
	}
	if !o.yes && g.interactive() {
		fmt.Fprintf(g.Stderr, "interface %s (%s):\n", id, describeInterface(current))
		printChanges(g.Stderr, changes)
		ok, err := g.confirm(ctx, fmt.Sprintf("Update interface %s?", id))
		if err != nil {
			return err
		}
		if !ok {
			return errNotConfirmed("updated")
		}
	}
	cctx, cancel = g.callContext(ctx)
	defer cancel()
	resp, err := ic.UpdateInterface(cctx, &ifacev1.UpdateInterfaceRequest{Interface: next})
	if err != nil {
		return err
	}
	return g.writeInterfaceResponse(resp)
}

// errNotConfirmed is the failure of a change the user declined.
func errNotConfirmed(what string) error {
	return errors.New("not " + what + ": the answer was not yes")
}

// printChanges prints one line per changed field: name, old value, new value.
func printChanges(w io.Writer, changes []fieldChange) {
	tw := newTable(w)
	for _, c := range changes {
		fmt.Fprintf(tw, "  %s\t%s\t-> %s\n", c.Field, cellReplacer.Replace(c.Old), cellReplacer.Replace(c.New))
	}
	tw.Flush()
}

// describeInterface names an interface for a question: device, SNMP id, description.
func describeInterface(it *ifacev1.Interface) string {
	parts := []string{"device " + it.GetDeviceId(), "SNMP id " + it.GetSnmpId()}
	if d := it.GetInterfaceDescription(); d != "" {
		parts = append(parts, fmt.Sprintf("%q", d))
	}
	return strings.Join(parts, ", ")
}

func newInterfacesDeleteCmd(g *Globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an interface",
		Long: `Delete interface ID (DeleteInterface). On a terminal the command shows the interface and
asks first; --yes skips the question. Without a terminal (a script, a pipe) there is no
one to ask, so --yes is required.`,
		Example: `  kentik interfaces delete 1000053
  kentik interfaces delete 1000053 --yes`,
		Args: positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := interfaceID(args[0])
			if err != nil {
				return err
			}
			if !yes && !g.interactive() {
				return usagef("delete %s: not confirmed: without a terminal there is no one to ask; add --yes to delete without asking", id)
			}
			return runInterfacesDelete(cmd.Context(), g, id, yes)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking (required without a terminal)")
	return cmd
}

func runInterfacesDelete(ctx context.Context, g *Globals, id string, yes bool) error {
	c, err := g.dialGRPC(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ic := c.Interfaces()
	if !yes {
		cctx, cancel := g.callContext(ctx)
		got, err := ic.GetInterface(cctx, &ifacev1.GetInterfaceRequest{Id: id})
		cancel()
		if err != nil {
			return fmt.Errorf("%w (reading interface %s before deleting it; nothing was deleted)", err, id)
		}
		fmt.Fprintf(g.Stderr, "interface %s (%s)\n", id, describeInterface(got.GetInterface()))
		ok, err := g.confirm(ctx, fmt.Sprintf("Delete interface %s?", id))
		if err != nil {
			return err
		}
		if !ok {
			return errNotConfirmed("deleted")
		}
	}
	cctx, cancel := g.callContext(ctx)
	defer cancel()
	resp, err := ic.DeleteInterface(cctx, &ifacev1.DeleteInterfaceRequest{Id: id})
	if err != nil {
		return err
	}
	if g.JSON() {
		return writeProtoJSON(g.Stdout, resp)
	}
	_, err = fmt.Fprintf(g.Stdout, "deleted interface %s\n", id)
	return err
}

// completeSet offers the settable field names for --set, and once a field is typed
// (FIELD=), its enum values.
func completeSet(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	name, _, hasValue := strings.Cut(toComplete, "=")
	if !hasValue {
		var out []string
		for _, f := range settableFields() {
			out = append(out, f+"=")
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
	fd := interfaceField(name)
	if fd == nil || fd.Enum() == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, v := range enumNames(fd.Enum()) {
		out = append(out, name+"="+v)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
