package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/mykentik"
)

func newTenantsCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "My Kentik tenants and their users (V5 REST)",
		Long: `My Kentik tenants and their users, through Kentik's V5 REST API.

Calls count against the V5 admin rate limit, apart from the gRPC APIs; --rate-limit
sets the policy (default admin). --api-url points at another server, e.g. the local
fake: kentik --api-url http://127.0.0.1:8080 tenants list`,
		// NoArgs with a RunE makes a mistyped subcommand a usage error (exit 2); without
		// them cobra prints the help and exits 0.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	users := &cobra.Command{
		Use:   "users",
		Short: "Add or remove a tenant's users",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	users.AddCommand(newTenantUsersAddCmd(g), newTenantUsersRemoveCmd(g))
	cmd.AddCommand(newTenantsListCmd(g), newTenantsGetCmd(g), users)
	return cmd
}

// dialV5 builds the V5 adapter from the resolved global flags. Its limiter is shared by
// every V5 admin call of the account in this process, under the --rate-limit policy;
// long waits are noted on stderr (see notifier).
func (g *Globals) dialV5(ctx context.Context) (*mykentik.Client, error) {
	creds := g.Credentials()
	if err := creds.Validate(); err != nil {
		return nil, &UsageError{Err: err}
	}
	opts := []mykentik.Option{
		mykentik.WithRegion(g.Region),
		mykentik.WithCredentials(creds),
		mykentik.WithUserAgent("kentik-cli"),
	}
	if g.APIURL != "" {
		opts = append(opts, mykentik.WithBaseURL(g.APIURL))
	}
	n := g.notices()
	var base http.RoundTripper = &noticeTransport{base: g.httpTransport(), n: n}
	if g.Verbose && g.Logger != nil {
		base = &logTransport{base: base, log: g.Logger}
	}
	// The adapter keys its shared limiter by region, or by base URL when one is given;
	// so does the command, whose one V5 client per run shares it with no other.
	place := g.Region
	if g.APIURL != "" {
		place = g.APIURL
	}
	limiter, err := g.limiter(ctx, place, kentik.ClassV5Admin)
	if err != nil {
		return nil, err
	}
	opts = append(opts, mykentik.WithHTTPClient(&http.Client{Transport: base}),
		mykentik.WithLimiter(limiter), mykentik.WithOnRetry(n.retryWait))
	c, err := mykentik.New(ctx, opts...)
	if err != nil {
		if errors.Is(err, kentik.ErrMissingCredentials) {
			return nil, &UsageError{Err: err}
		}
		return nil, &UsageError{Err: fmt.Errorf("V5 API: %w", err)}
	}
	return c, nil
}

// withV5 runs f with the V5 adapter and a context bounded by --timeout, and closes the
// adapter (its idle connections) after.
func withV5(cmd *cobra.Command, g *Globals, f func(ctx context.Context, c *mykentik.Client) error) error {
	c, err := g.dialV5(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := g.callContext(cmd.Context())
	defer cancel()
	return f(ctx, c)
}

func newTenantsListCmd(g *Globals) *cobra.Command {
	return withOutputs(&cobra.Command{
		Use:   "list",
		Short: "List the organization's tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withV5(cmd, g, func(ctx context.Context, c *mykentik.Client) error {
				tenants, err := c.ListTenants(ctx)
				if err != nil {
					return err
				}
				if g.JSON() {
					if tenants == nil {
						tenants = []mykentik.Tenant{}
					}
					return writeJSON(g.Stdout, tenants)
				}
				return g.writeTenants(tenants)
			})
		},
	}, outputCSV)
}

func newTenantsGetCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get TENANT_ID",
		Short: "Show one tenant and its users",
		Args:  positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTenantID(args[0])
			if err != nil {
				return err
			}
			return withV5(cmd, g, func(ctx context.Context, c *mykentik.Client) error {
				t, err := c.GetTenant(ctx, id)
				if err != nil {
					return err
				}
				if g.JSON() {
					return writeJSON(g.Stdout, t)
				}
				return writeTenant(g.Stdout, t)
			})
		},
	}
}

func newTenantUsersAddCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add TENANT_ID EMAIL",
		Short: "Add a user to a tenant by email (Kentik mails them an invitation)",
		Args:  positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTenantID(args[0])
			if err != nil {
				return err
			}
			return withV5(cmd, g, func(ctx context.Context, c *mykentik.Client) error {
				u, err := c.CreateTenantUser(ctx, id, args[1])
				if errors.Is(err, mykentik.ErrInvalidEmail) {
					return &UsageError{Err: err}
				}
				if err != nil {
					return err
				}
				if g.JSON() {
					return writeJSON(g.Stdout, u)
				}
				return writeUsers(g.Stdout, []mykentik.User{*u})
			})
		},
	}
}

func newTenantUsersRemoveCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove TENANT_ID USER",
		Short: "Remove a user from a tenant, by user id or email",
		Long: `Remove a user from a tenant (V5 tenant user delete). USER is the user's id (kentik
tenants get TENANT_ID lists them) or their email address, which is looked up among the
tenant's users first (one more call).`,
		Example: `  kentik tenants users remove 101 300002
  kentik tenants users remove 101 bob@acme.example`,
		Args: positionalArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTenantID(args[0])
			if err != nil {
				return err
			}
			byEmail := strings.Contains(args[1], "@")
			userID := strings.TrimSpace(args[1])
			if !byEmail {
				if userID, err = checkID("user id", args[1], "300002"); err != nil {
					return err
				}
			}
			return withV5(cmd, g, func(ctx context.Context, c *mykentik.Client) error {
				if byEmail {
					if userID, err = tenantUserByEmail(ctx, c, id, userID); err != nil {
						return err
					}
				}
				if err := c.DeleteTenantUser(ctx, id, userID); err != nil {
					if errors.Is(err, mykentik.ErrInvalidArgument) {
						return &UsageError{Err: err}
					}
					return err
				}
				if g.JSON() {
					return writeJSON(g.Stdout, map[string]any{"tenant_id": id, "user_id": userID, "removed": true})
				}
				_, err := fmt.Fprintf(g.Stdout, "removed user %s from tenant %d\n", userID, id)
				return err
			})
		},
	}
}

// tenantUserByEmail returns the id of the tenant's user with that email (compared
// without regard to case, as email domains are).
func tenantUserByEmail(ctx context.Context, c *mykentik.Client, tenant int64, email string) (string, error) {
	t, err := c.GetTenant(ctx, tenant)
	if err != nil {
		return "", err
	}
	for _, u := range t.Users {
		if strings.EqualFold(u.Email, email) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("tenant %d has no user %s (kentik tenants get %d lists its users)", tenant, email, tenant)
}

func writeTenant(w io.Writer, t *mykentik.Tenant) error {
	if err := writeFields(w, [][2]string{
		{"ID", strconv.FormatInt(t.ID, 10)},
		{"Name", t.Name},
		{"Description", t.Description},
		{"Company", t.CompanyID},
		{"Created", formatTime(t.Created)},
		{"Edited", formatTime(t.Edited)},
		{"Users", strconv.Itoa(len(t.Users))},
	}); err != nil || len(t.Users) == 0 {
		return err
	}
	fmt.Fprintln(w)
	return writeUsers(w, t.Users)
}

func writeUsers(w io.Writer, users []mykentik.User) error {
	rows := make([][]string, 0, len(users))
	for _, u := range users {
		rows = append(rows, []string{u.ID, u.Email, u.UserName, u.FullName, formatTime(u.LastLogin)})
	}
	return writeTable(w, []string{"USER ID", "EMAIL", "USER NAME", "FULL NAME", "LAST LOGIN"}, rows)
}

// writeJSON prints v as indented JSON with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// logTransport logs every V5 request it sends (-v): method, URL path, status and duration,
// at Debug. It sits below the adapter's auth and rate-limit transports, so it sees each
// attempt, but it never logs headers (the token) or bodies.
type logTransport struct {
	base http.RoundTripper
	log  *slog.Logger
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	attrs := []any{"method", req.Method, "host", req.URL.Host, "path", req.URL.Path, "time_ms", time.Since(start).Milliseconds()}
	if err != nil {
		t.log.Debug("V5 request failed", append(attrs, "error", err)...)
		return resp, err
	}
	t.log.Debug("V5 request", append(attrs, "status", resp.StatusCode)...)
	return resp, nil
}

// CloseIdleConnections forwards to the wrapped transport, so that the adapter's Close
// reaches it.
func (t *logTransport) CloseIdleConnections() { closeIdle(t.base) }

// closeIdle closes the idle connections of rt when it has a way to.
func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
