package cli

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gokentik/kentik/client"
)

func newAPICallCmd(g *Globals, opts ...client.Option) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "call METHOD",
		Short: "Call any public v6 method with a JSON request",
		Long: `Call a method of Kentik's v6 APIs with a request in JSON (protojson: the field names as in
kentik api describe or in lowerCamelCase, enum values by name) and print the response as
JSON, whatever -o says: one document, or one per message for a method that streams its
responses. The call goes through the same client as every other command: the
credentials, region and host of the method's service, --grpc-endpoint, --rate-limit,
retries of what is safe to retry, --timeout and -v.

METHOD is /kentik.PACKAGE.Service/Method, kentik.PACKAGE.Service.Method, or any trailing
part of that which names one method: Service.Method or Method. When several methods
match (ListDevices is a method of two versions of DeviceService), the error lists them.
Without -d the request is empty ({}).

Exit codes: 0 success, 1 the call failed, 2 usage (an unknown or ambiguous METHOD, a
request that is not valid JSON for the method).`,
		Example: `  kentik api call ListInterface -d '{"filters": {"connectivityTypes": ["CONNECTIVITY_TYPE_TRANSIT"]}}'
  kentik api call InterfaceService.ManualClassify -d @classify.json
  echo '{"id": "1000053"}' | kentik api call GetInterface -d @-
  kentik api call /kentik.mkp.v202407.TenantService/ListTenant`,
		Args: positionalArgs,
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeMethods(toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req := apiRequest{data: data, given: cmd.Flags().Changed("data")}
			return runAPICall(cmd.Context(), g, args[0], req, opts...)
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "the request: JSON, @FILE to read it from FILE, or @- to read it from stdin (default {})")
	_ = cmd.RegisterFlagCompletionFunc("data", completeDataFile) // fails only for a flag registered twice
	return cmd
}

// apiRequest is where the request of api call comes from: -d's value, if given.
type apiRequest struct {
	data  string
	given bool
}

func runAPICall(ctx context.Context, g *Globals, name string, r apiRequest, opts ...client.Option) error {
	m, err := lookupAPIMethod(name)
	if err != nil {
		return err
	}
	if m.Desc.IsStreamingClient() {
		return usagef("%s takes a stream of requests: kentik api call sends one request, so it calls only methods that take one", m.Desc.FullName())
	}
	data, from, err := g.readRequest(ctx, r)
	if err != nil {
		return err
	}
	req, err := parseRequest(m.Desc.Input(), data)
	if err != nil {
		return usagef("%s: not a %s: %w", from, m.Desc.Input().FullName(), err)
	}
	c, err := g.dialGRPC(ctx, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := g.callContext(ctx)
	defer cancel()
	return invokeMethod(cctx, c.Conn(), m.FullMethod, m.Desc, req, func(resp proto.Message) error {
		return writeProtoJSON(g.Stdout, resp)
	})
}

// readRequest returns the request's bytes and a name for where they came from: -d's
// JSON, the file of -d @FILE, stdin for -d @-, or {} without -d.
func (g *Globals) readRequest(ctx context.Context, r apiRequest) (data []byte, from string, err error) {
	const want = "the request as a JSON object ({} for an empty request)"
	switch {
	case !r.given:
		return []byte("{}"), "the empty request", nil
	case r.data == "@-":
		from = "stdin (-d @-)"
		data, err = g.readJSONInput(ctx, "-", "-d", from, want)
	case strings.HasPrefix(r.data, "@"):
		from = "-d " + r.data
		data, err = g.readJSONInput(ctx, r.data[1:], "-d", from, want)
	default:
		from = "-d"
		data, err = []byte(r.data), notEmpty([]byte(r.data), from, want)
	}
	if err != nil {
		return nil, "", err
	}
	return data, from, nil
}

// invokeMethod calls fullMethod (described by md) with req on cc and gives each response
// to emit: the one response of a unary method, or each message of a server stream as it
// comes.
func invokeMethod(ctx context.Context, cc grpc.ClientConnInterface, fullMethod string, md protoreflect.MethodDescriptor, req proto.Message, emit func(proto.Message) error) error {
	if !md.IsStreamingServer() {
		resp := newMessage(md.Output())
		if err := cc.Invoke(ctx, fullMethod, req, resp); err != nil {
			return err
		}
		return emit(resp)
	}
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{StreamName: string(md.Name()), ServerStreams: true}, fullMethod)
	if err != nil {
		return err
	}
	// io.EOF from SendMsg means the stream has ended; RecvMsg returns its status.
	if err := st.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	for {
		resp := newMessage(md.Output())
		err := st.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := emit(resp); err != nil {
			return err
		}
	}
}

// completeDataFile offers, for -d @FILE, the files and directories that start with what
// follows the @ (cobra's own file completion cannot add the @).
func completeDataFile(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	rest, ok := strings.CutPrefix(toComplete, "@")
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp // JSON itself
	}
	dir, base := filepath.Split(rest)
	entries, err := os.ReadDir(cmp.Or(dir, "."))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := []string{}
	if rest == "" {
		out = append(out, "@-")
	}
	directive := cobra.ShellCompDirectiveNoFileComp
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, base) || strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		if e.IsDir() {
			n += string(filepath.Separator)
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		out = append(out, "@"+dir+n)
	}
	return out, directive
}
