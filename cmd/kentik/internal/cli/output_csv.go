package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/mykentik"
)

// The output formats, and the annotation that lists those a command writes beyond
// table and json.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputCSV   = "csv"  // list commands: one header line, then one record per item
	outputPlan  = "plan" // interfaces list: the classifications, as a classify plan

	annotationOutputs = "kentik.outputs"
)

// outputs lists the formats cmd writes: table and json, and those of its annotation.
func outputs(cmd *cobra.Command) []string {
	out := []string{outputTable, outputJSON}
	if extra := cmd.Annotations[annotationOutputs]; extra != "" {
		out = append(out, strings.Split(extra, ",")...)
	}
	return out
}

// withOutputs marks cmd as writing the extra formats too.
func withOutputs(cmd *cobra.Command, extra ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationOutputs] = strings.Join(extra, ",")
	return cmd
}

// checkOutput checks -o against the formats cmd writes.
func checkOutput(cmd *cobra.Command, format string) error {
	formats := outputs(cmd)
	for _, f := range formats {
		if format == f {
			return nil
		}
	}
	return usagef("--output %q: %s writes %s", format, cmd.CommandPath(), joinOr(formats))
}

// joinOr joins names as English does: "A", "A or B", "A, B or C".
func joinOr(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// writeCSV writes a header and records as CSV (RFC 4180, as encoding/csv writes it).
func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// interfaceCSVHeader names the columns of interfaces list -o csv: the Interface
// message's field names.
var interfaceCSVHeader = []string{"id", "device_id", "snmp_id", "interface_description", "snmp_alias", "interface_ip",
	"interface_ip_netmask", "snmp_speed", "connectivity_type", "network_boundary", "provider", "interface_status"}

func interfaceCSVRecord(it *ifacev1.Interface) []string {
	return []string{it.GetId(), it.GetDeviceId(), it.GetSnmpId(), it.GetInterfaceDescription(), it.GetSnmpAlias(), it.GetInterfaceIp(),
		it.GetInterfaceIpNetmask(), strconv.Itoa(int(it.GetSnmpSpeed())),
		enums.ConnectivityTypeName(it.GetConnectivityType()), enums.NetworkBoundaryName(it.GetNetworkBoundary()),
		it.GetProvider(), it.GetInterfaceStatus()}
}

// planHeader is the header of a classify plan (see package classify), which
// interfaces list -o plan and the demo write.
var planHeader = []string{"interface_id", "connectivity_type", "network_boundary", "provider"}

// planRecord is an interface's current classification as a plan row, enum values by
// their short names ("unspecified" included), so that the plan sets what is there.
func planRecord(it *ifacev1.Interface) []string {
	return []string{it.GetId(), enums.ConnectivityTypeName(it.GetConnectivityType()),
		enums.NetworkBoundaryName(it.GetNetworkBoundary()), it.GetProvider()}
}

// writeInterfaces writes a list of interfaces in the format -o asks for (not json).
func (g *Globals) writeInterfaces(list []*ifacev1.Interface) error {
	var (
		header []string
		record func(*ifacev1.Interface) []string
	)
	switch g.Output {
	case outputCSV:
		header, record = interfaceCSVHeader, interfaceCSVRecord
	case outputPlan:
		header, record = planHeader, planRecord
	default:
		rows := make([][]string, 0, len(list))
		for _, it := range list {
			rows = append(rows, []string{
				it.GetId(), it.GetDeviceId(), it.GetSnmpId(), it.GetInterfaceDescription(), it.GetSnmpAlias(),
				it.GetInterfaceIp(), speed(it.GetSnmpSpeed()),
				classification(enums.ConnectivityTypeName(it.GetConnectivityType())),
				classification(enums.NetworkBoundaryName(it.GetNetworkBoundary())), it.GetProvider(),
			})
		}
		return writeTable(g.Stdout, []string{"ID", "DEVICE", "SNMP", "DESCRIPTION", "ALIAS", "IP", "SPEED", "CONNECTIVITY", "BOUNDARY", "PROVIDER"}, rows)
	}
	rows := make([][]string, 0, len(list))
	for _, it := range list {
		rows = append(rows, record(it))
	}
	return writeCSV(g.Stdout, header, rows)
}

// writeTenants writes a list of tenants as a table or CSV.
func (g *Globals) writeTenants(tenants []mykentik.Tenant) error {
	rows := make([][]string, 0, len(tenants))
	for _, t := range tenants {
		rows = append(rows, []string{strconv.FormatInt(t.ID, 10), t.Name, strconv.Itoa(len(t.Users)), formatTime(t.Created), t.Description})
	}
	if g.Output == outputCSV {
		return writeCSV(g.Stdout, []string{"id", "name", "users", "created", "description"}, rows)
	}
	return writeTable(g.Stdout, []string{"ID", "NAME", "USERS", "CREATED", "DESCRIPTION"}, rows)
}
