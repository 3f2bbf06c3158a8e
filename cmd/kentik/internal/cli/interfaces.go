package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/ctxio"
)

func newInterfacesCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "interfaces",
		Aliases: []string{"interface", "if"},
		Short:   "List, show, create, update, delete and classify interfaces (InterfaceService)",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newInterfacesListCmd(g), newInterfacesGetCmd(g), newInterfacesCreateCmd(g),
		newInterfacesUpdateCmd(g), newInterfacesDeleteCmd(g), newClassifyCmd(g))
	return cmd
}

type listFlags struct {
	text              string
	deviceIDs         []string
	connectivityTypes []string
	boundaries        []string
	providers         []string
	speeds            []int32
	ipTypes           []string
}

func newInterfacesListCmd(g *Globals) *cobra.Command {
	var o listFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List interfaces, narrowed by filters",
		Long: `List the interfaces that match every filter given (ListInterface). A filter that may be
repeated matches any of its values. Enum values are accepted in any case, with or without
their prefix: transit, TRANSIT and CONNECTIVITY_TYPE_TRANSIT are the same.

Connectivity types: ` + strings.Join(enums.ConnectivityTypeNames(), ", ") + `
Network boundaries: ` + strings.Join(enums.NetworkBoundaryNames(), ", ") + `
IP types: ` + strings.Join(enums.IPFilterNames(), ", ") + `

-o csv writes one record per interface under a header of Interface field names; -o plan
writes their current classifications as a classify plan (interface_id,
connectivity_type,network_boundary,provider), to edit and give to interfaces classify.`,
		Example: `  kentik interfaces list --connectivity-type transit --connectivity-type ix
  kentik interfaces list --device-id 1001 --text peering -o json
  kentik interfaces list --provider Zayo -o csv > zayo.csv
  kentik interfaces list --device-id 1001 -o plan > plan.csv   # edit, then: kentik interfaces classify -f plan.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := o.filter()
			if err != nil {
				return err
			}
			return runInterfacesList(cmd.Context(), g, filter)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.text, "text", "", "text within the interface description or SNMP alias")
	f.StringSliceVar(&o.deviceIDs, "device-id", nil, "device id (repeatable, or comma-separated)")
	f.StringSliceVar(&o.connectivityTypes, "connectivity-type", nil, "connectivity type, e.g. transit (repeatable, or comma-separated)")
	f.StringSliceVar(&o.boundaries, "network-boundary", nil, "network boundary: internal, external, auto or none (repeatable)")
	f.StringArrayVar(&o.providers, "provider", nil, "provider name (repeatable; commas are part of the name)")
	f.Int32SliceVar(&o.speeds, "snmp-speed", nil, "interface speed in Mbps (repeatable, or comma-separated)")
	f.StringSliceVar(&o.ipTypes, "ip-type", nil, "kind of interface address: public, private or unset (repeatable)")
	return withOutputs(cmd, outputCSV, outputPlan)
}

// filter turns the flags into an InterfaceFilter, or a usage error naming the
// flag with a bad value.
func (o listFlags) filter() (*ifacev1.InterfaceFilter, error) {
	f := &ifacev1.InterfaceFilter{Text: o.text, Providers: o.providers, SnmpSpeeds: o.speeds}
	for _, arg := range o.deviceIDs {
		if strings.TrimSpace(arg) == "" {
			continue
		}
		id, err := checkID("--device-id", arg, "1001")
		if err != nil {
			return nil, err
		}
		f.DeviceIds = append(f.DeviceIds, id)
	}
	var err error
	if f.ConnectivityTypes, err = parseEach("--connectivity-type", o.connectivityTypes, enums.ParseConnectivityType); err != nil {
		return nil, err
	}
	if f.NetworkBoundaries, err = parseEach("--network-boundary", o.boundaries, enums.ParseNetworkBoundary); err != nil {
		return nil, err
	}
	if f.IpTypes, err = parseEach("--ip-type", o.ipTypes, enums.ParseIPFilter); err != nil {
		return nil, err
	}
	for _, sp := range o.speeds {
		if sp < 0 {
			return nil, usagef("--snmp-speed %d: want a speed in Mbps, 0 or more", sp)
		}
	}
	return f, nil
}

func runInterfacesList(ctx context.Context, g *Globals, filter *ifacev1.InterfaceFilter) error {
	var resp *ifacev1.ListInterfaceResponse
	err := withInterfaces(ctx, g, func(ctx context.Context, ic ifacev1.InterfaceServiceClient) (err error) {
		resp, err = ic.ListInterface(ctx, &ifacev1.ListInterfaceRequest{Filters: filter})
		return err
	})
	if err != nil {
		return err
	}
	if g.JSON() {
		return writeProtoJSON(g.Stdout, resp)
	}
	if err := g.writeInterfaces(resp.GetInterfaces()); err != nil {
		return err
	}
	// The count goes to stderr so that stdout stays only rows.
	n := len(resp.GetInterfaces())
	fmt.Fprintf(g.Stderr, "%d interface%s", n, plural(n))
	if tc := int(resp.GetTotalCount()); tc != n {
		fmt.Fprintf(g.Stderr, " of %d matching", tc)
	}
	if ic := resp.GetInvalidCount(); ic > 0 {
		fmt.Fprintf(g.Stderr, ", %d invalid", ic)
	}
	fmt.Fprintln(g.Stderr)
	return nil
}

func speed(mbps int32) string {
	if mbps == 0 {
		return ""
	}
	return strconv.Itoa(int(mbps))
}

// classification shows "unspecified" as empty (printed "-").
func classification(name string) string {
	if name == "unspecified" {
		return ""
	}
	return name
}

// interfaceResponse is a response that carries one interface (Get, Create, Update).
type interfaceResponse interface {
	proto.Message
	GetInterface() *ifacev1.Interface
}

// writeInterfaceResponse prints the whole response as protojson with -o json, and
// its interface as a table otherwise.
func (g *Globals) writeInterfaceResponse(resp interfaceResponse) error {
	if g.JSON() {
		return writeProtoJSON(g.Stdout, resp)
	}
	return writeInterface(g.Stdout, resp.GetInterface())
}

func newInterfacesGetCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show one interface",
		Args:  positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := interfaceID(args[0])
			if err != nil {
				return err
			}
			return withInterfaces(cmd.Context(), g, func(ctx context.Context, ic ifacev1.InterfaceServiceClient) error {
				resp, err := ic.GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: id})
				if err != nil {
					return err
				}
				return g.writeInterfaceResponse(resp)
			})
		},
	}
}

func newInterfacesCreateCmd(g *Globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "create --file FILE",
		Short: "Create an interface from a JSON file",
		Long: `Create an interface (CreateInterface) from FILE, an Interface in Kentik's JSON form
(protojson: deviceId, snmpId, interfaceDescription, connectivityType, ...), or - for stdin.
Field names may also be written in snake_case (device_id), and enum values as flags take
them ("transit", "paid-pni", any case, with or without the prefix). Unknown fields are
refused. CreateInterface is never retried after UNAVAILABLE, so that
a lost answer cannot create the interface twice.`,
		Example: `  kentik interfaces create --file iface.json
  echo '{"deviceId":"1001","snmpId":"12","connectivityType":"transit"}' | kentik interfaces create -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			iface, err := readInterface(cmd.Context(), g, file)
			if err != nil {
				return err
			}
			return withInterfaces(cmd.Context(), g, func(ctx context.Context, ic ifacev1.InterfaceServiceClient) error {
				resp, err := ic.CreateInterface(ctx, &ifacev1.CreateInterfaceRequest{Interface: iface})
				if err != nil {
					return err
				}
				return g.writeInterfaceResponse(resp)
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the interface as JSON, or - for stdin (required)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// withInterfaces dials, runs one call under --timeout, and closes.
func withInterfaces(ctx context.Context, g *Globals, call func(context.Context, ifacev1.InterfaceServiceClient) error) error {
	c, err := g.dialGRPC(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := g.callContext(ctx)
	defer cancel()
	return call(cctx, c.Interfaces())
}

// maxJSONInput bounds the JSON document a flag gives (an interface, a request).
const maxJSONInput = 16 << 20

// readJSONInput reads the JSON document in the file at path, or on stdin for "-", at
// most maxJSONInput bytes, and refuses an empty one. flag names the flag in the error of
// a file that cannot be opened, name the input in the other messages ("stdin", "-d
// @FILE"), and want says what the document should be.
func (g *Globals) readJSONInput(ctx context.Context, path, flag, name, want string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		cr := ctxio.Reader(ctx, g.Stdin)
		defer cr.Close()
		r = cr
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, usagef("%s is a directory: want a file holding %s", name, want)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxJSONInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxJSONInput {
		return nil, usagef("%s: larger than %d MiB", name, maxJSONInput>>20)
	}
	return data, notEmpty(data, name, want)
}

// notEmpty refuses JSON input that holds nothing but blanks.
func notEmpty(data []byte, name, want string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return usagef("%s is empty: want %s", name, want)
	}
	return nil
}

// readInterface reads an Interface as protojson from file, or stdin for "-".
func readInterface(ctx context.Context, g *Globals, file string) (*ifacev1.Interface, error) {
	if file == "" {
		return nil, usagef("--file is required (a JSON file, or - for stdin)")
	}
	name := file
	if file == "-" {
		name = "stdin"
	}
	data, err := g.readJSONInput(ctx, file, "--file", name, `an Interface in JSON form, e.g. {"deviceId":"1001","snmpId":"12"}`)
	if err != nil {
		return nil, err
	}
	// Enum values are read as leniently as in plans and flags ("transit", "paid-pni").
	if data, err = lenientEnums(interfaceDesc, data); err != nil {
		return nil, usagef("%s: %v", name, err)
	}
	var iface ifacev1.Interface
	if err := protojson.Unmarshal(data, &iface); err != nil {
		return nil, usagef("%s: not an Interface in JSON form: %v", name, err)
	}
	return &iface, nil
}

// writeInterface prints one interface as name/value lines.
func writeInterface(w io.Writer, it *ifacev1.Interface) error {
	pairs := [][2]string{
		{"id", it.GetId()},
		{"device_id", it.GetDeviceId()},
		{"snmp_id", it.GetSnmpId()},
		{"description", it.GetInterfaceDescription()},
		{"snmp_alias", it.GetSnmpAlias()},
		{"ip", joinNonEmpty("/", it.GetInterfaceIp(), it.GetInterfaceIpNetmask())},
		{"snmp_speed_mbps", speed(it.GetSnmpSpeed())},
		{"connectivity_type", classification(enums.ConnectivityTypeName(it.GetConnectivityType()))},
		{"network_boundary", classification(enums.NetworkBoundaryName(it.GetNetworkBoundary()))},
		{"provider", it.GetProvider()},
		{"status", it.GetInterfaceStatus()},
	}
	if ts := it.GetCdate(); ts != nil {
		pairs = append(pairs, [2]string{"created", ts.AsTime().UTC().Format("2006-01-02T15:04:05Z")})
	}
	if ts := it.GetEdate(); ts != nil {
		pairs = append(pairs, [2]string{"edited", ts.AsTime().UTC().Format("2006-01-02T15:04:05Z")})
	}
	return writeFields(w, pairs)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// parseEach parses every value of a repeatable enum flag; a bad one is a usage error
// naming the flag.
func parseEach[T any](flag string, values []string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, s := range values {
		v, err := parse(s)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
		}
		out = append(out, v)
	}
	return out, nil
}
