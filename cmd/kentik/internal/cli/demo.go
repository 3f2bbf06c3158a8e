package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

type demoFlags struct {
	interfaces int
	batchSize  int
	speedup    float64
	seed       int64
	metrics    metricsFlags
	outage     outageFlags
}

// demoGroups is how the demo plan classifies the fake's interfaces, in turn.
var demoGroups = []string{
	"transit,external,Acme Transit",
	"transit,external,Zayo",
	"ix,external,DE-CIX",
	"paid_pni,external,Beta Cloud",
	"backbone,internal,",
}

func newDemoCmd(g *Globals) *cobra.Command {
	var o demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bulk classify job against a built-in fake of Kentik, at compressed time",
		Long: `Start the fake in this process with --interfaces seeded interfaces, write a plan that
classifies all of them into a handful of groups, and run the classify job through the real
client. Both the client and the fake apply Kentik's published admin limits (1 concurrent
request, 60 per minute hard, 20 per minute soft with a 1.5 s delay beyond, 3750 per hour)
with time compressed --speedup times, so the pacing, the progress line and the summary fit
in well under a minute. Then it verifies the result and shows the fake's own count: the
most calls it saw in any window against the hard limit, and its rejections (0).

With --outage-for D the fake plays an outage of Kentik for D, --outage-after after the
job starts (see kentik fake): the job stops sending, probes, and resumes when the fake is
back, with no batch lost (client retries and probes run at real time).

Nothing leaves the machine: the fake listens on 127.0.0.1 and the plan lives in a
temporary directory.`,
		Example: `  kentik demo
  kentik demo --interfaces 50000 --batch-size 250
  kentik demo --speedup 60 -o json
  kentik demo --outage-after 3s --outage-for 20s --outage-mode refuse`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.interfaces, "interfaces", 20000, "interfaces to seed and classify")
	f.IntVar(&o.batchSize, "batch-size", 100, "interface ids per ManualClassify request")
	f.Float64Var(&o.speedup, "speedup", 30, "how many times faster than real time the limits run")
	f.Int64Var(&o.seed, "seed", 1, "seed of the fake's interfaces")
	o.metrics.add(f)
	o.outage.add(f)
	return cmd
}

// demoReport is the fake's view of the run, as -o json prints it.
type demoReport struct {
	ManualClassifyCalls int            `json:"manual_classify_calls"`
	OutageRefused       int            `json:"outage_refused,omitempty"` // ManualClassify calls answered UNAVAILABLE by the played outage
	ListInterfaceCalls  int            `json:"list_interface_calls"`
	Rejected            map[string]int `json:"rejected"`
	Delayed             int            `json:"delayed"`
	MaxConcurrent       int            `json:"max_concurrent"`
	Concurrency         int            `json:"concurrency_limit"`
	WindowPeaks         []demoWindow   `json:"windows"`
	Exceeded            bool           `json:"limit_exceeded"`
}

type demoWindow struct {
	Window string `json:"window"`
	Peak   int    `json:"max_calls"`
	Limit  int    `json:"limit"`
}

func runDemo(ctx context.Context, g *Globals, o demoFlags) error {
	switch {
	case o.interfaces <= 0 || o.interfaces > maxFakeInterfaces:
		return usagef("--interfaces %d: want 1 to %d", o.interfaces, maxFakeInterfaces)
	case o.batchSize <= 0 || o.batchSize > classify.MaxBatchSize:
		return usagef("--batch-size %d: want 1 to %d", o.batchSize, classify.MaxBatchSize)
	case !(o.speedup >= 1 && o.speedup <= 1000):
		return usagef("--speedup %g: want 1 to 1000", o.speedup)
	}
	if err := o.metrics.check(); err != nil {
		return err
	}
	outageMode, err := o.outage.check()
	if err != nil {
		return err
	}
	out := g.Stderr // the story goes to stderr; -o json puts the result alone on stdout
	if !g.JSON() {
		out = g.Stdout
	}
	policy := ratelimit.Admin.Scale(o.speedup)
	fmt.Fprintf(out, "Kentik's published admin limits:       %s\n", describePolicy(ratelimit.Admin))
	fmt.Fprintf(out, "at %gx compressed time, on the client AND the fake: %s\n", o.speedup, describePolicy(policy))
	fmt.Fprintf(out, "(hard limit %.1f requests/s, at most %d at a time; beyond the soft limit the fake delays its answers)\n\n",
		float64(time.Second)/float64(policy.MinInterval()), policy.Concurrency)

	t0 := time.Now()
	srv, err := kentiktest.NewServer(kentiktest.WithInterfaces(o.interfaces, o.seed), kentiktest.WithPolicy(policy))
	if err != nil {
		return fmt.Errorf("demo: starting the fake: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(out, "fake Kentik on %s with %d interfaces (seeded in %s)\n", srv.GRPCAddr(), srv.NumInterfaces(), time.Since(t0).Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "kentik-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	planPath := filepath.Join(dir, "plan.csv")
	if err := writeDemoPlan(planPath, srv.InterfaceIDs()); err != nil {
		return fmt.Errorf("demo: writing the plan: %w", err)
	}
	plan, err := classify.Load(ctx, planPath, classify.Options{BatchSize: o.batchSize})
	if err != nil {
		return err
	}
	defer plan.Close()
	fmt.Fprintf(out, "plan %s: %d interfaces in %d groups\n\n", planPath, plan.Interfaces, len(plan.Groups))
	printPlan(out, plan)
	fmt.Fprintf(out, "%d requests; the policy allows them in no less than %s\n\n", plan.Requests(),
		classify.Estimate(policy, plan.Requests(), 0).Round(10*time.Millisecond))

	var retries atomic.Int64
	clientOpts := []client.Option{
		client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
		client.WithCredentials(srv.Credentials()), client.WithRateLimit(policy),
		client.WithOnRetry(func(kentik.RetryEvent) { retries.Add(1) }),
	}
	ms, job, metricsOpt, err := jobMetrics(g, o.metrics, fakeCollector{srv: srv})
	if err != nil {
		return err
	}
	defer ms.Close()
	if ms != nil {
		clientOpts = append(clientOpts, metricsOpt)
		fmt.Fprintf(out, "metrics (the client, the job and the fake) on %s while the demo runs\n\n", ms.URL())
	}
	c, err := client.New(ctx, clientOpts...)
	if err != nil {
		return err
	}
	defer c.Close()
	pp := newProgressPrinter(g.Stderr, g.terminal(g.Stderr))
	pp.Every = time.Second
	r := &classify.Runner{
		Client:     c.Interfaces(),
		Policy:     policy,
		Journal:    filepath.Join(dir, "plan.journal"),
		FailedFile: filepath.Join(dir, "plan.failed"),
		Verify:     true,
		Progress:   jobProgress(pp, job),
		Retries:    retries.Load,
		Logger:     g.Logger,

		OutageBudget: classify.DefaultOutageBudget,
	}
	if desc := o.outage.String(); desc != "" {
		fmt.Fprintf(out, "the fake will play an outage: %s\n\n", desc)
	}
	stopOutage := o.outage.start(srv, outageMode, func(line string) { fmt.Fprintln(g.Stderr, line) }) // the console clears the status line first
	s, runErr := r.Run(ctx, plan)
	stopOutage()
	st := srv.Stats()
	rep := demoReport{
		ManualClassifyCalls: st.GRPC.Calls["ManualClassify"],
		OutageRefused:       st.GRPC.Rejected[kentiktest.RejectOutage],
		ListInterfaceCalls:  st.GRPC.Calls["ListInterface"],
		Rejected:            st.GRPC.Rejected,
		Delayed:             st.GRPC.Delayed,
		MaxConcurrent:       st.GRPC.Limits.MaxConcurrent,
		Concurrency:         policy.Concurrency,
		Exceeded:            st.GRPC.Limits.Exceeded(),
	}
	for i, w := range policy.Windows {
		if i < len(st.GRPC.Limits.WindowPeak) {
			rep.WindowPeaks = append(rep.WindowPeaks, demoWindow{Window: w.String(), Peak: st.GRPC.Limits.WindowPeak[i], Limit: w.Limit})
		}
	}
	rejected := 0
	for reason, n := range rep.Rejected {
		if reason != kentiktest.RejectOutage { // played on purpose, not a limit
			rejected += n
		}
	}

	if g.JSON() {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Summary *classify.Summary `json:"summary"`
			Fake    demoReport        `json:"fake"`
		}{s, rep}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out)
		printSummary(out, s)
		fmt.Fprintf(out, "\nthe fake's view:\n")
		fmt.Fprintf(out, "  ManualClassify calls   %d (plan: %d)\n", rep.ManualClassifyCalls, plan.Requests())
		if rep.OutageRefused > 0 {
			fmt.Fprintf(out, "  refused by the outage  %d\n", rep.OutageRefused)
		}
		fmt.Fprintf(out, "  ListInterface calls    %d (verification)\n", rep.ListInterfaceCalls)
		for _, w := range rep.WindowPeaks {
			fmt.Fprintf(out, "  max calls in a window  %d of %d allowed (%s)\n", w.Peak, w.Limit, w.Window)
		}
		fmt.Fprintf(out, "  max concurrent calls   %d of %d allowed\n", rep.MaxConcurrent, rep.Concurrency)
		fmt.Fprintf(out, "  soft-limit delays      %d\n", rep.Delayed)
		fmt.Fprintf(out, "  rejections             %d\n", rejected)
	}
	if runErr != nil {
		return runErr
	}
	if rep.Exceeded || rejected > 0 {
		return errors.New("demo: the fake saw its limits exceeded")
	}
	handled := rep.ManualClassifyCalls - rep.OutageRefused
	switch {
	case o.outage.dur <= 0 && handled != plan.Requests():
		return fmt.Errorf("demo: the fake saw %d ManualClassify calls for %d planned", rep.ManualClassifyCalls, plan.Requests())
	case handled < plan.Requests() || handled > plan.Requests()+policy.Concurrency:
		// A refusing outage cuts the calls in flight: those may be sent again.
		return fmt.Errorf("demo: the fake handled %d ManualClassify calls for %d planned, %d in flight at most", handled, plan.Requests(), policy.Concurrency)
	}
	return nil
}

// writeDemoPlan writes a CSV plan giving each id a group of demoGroups in turn.
func writeDemoPlan(path string, ids []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := writeDemoRows(w, ids); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeDemoRows(w io.Writer, ids []string) error {
	if _, err := fmt.Fprintln(w, strings.Join(planHeader, ",")); err != nil {
		return err
	}
	for i, id := range ids {
		if _, err := fmt.Fprintf(w, "%s,%s\n", id, demoGroups[i%len(demoGroups)]); err != nil {
			return err
		}
	}
	return nil
}
