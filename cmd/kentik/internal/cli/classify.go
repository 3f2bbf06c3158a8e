package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentikprom"
)

type classifyFlags struct {
	file        string
	format      string
	batchSize   int
	skipInvalid bool
	rejectFile  string
	journal     string
	dryRun      bool
	verify      bool
	failedFile  string
	metrics     metricsFlags
	missingFile string
	spoolLimit  string
	outage      time.Duration // --outage-budget
}

func newClassifyCmd(g *Globals) *cobra.Command {
	var o classifyFlags
	cmd := &cobra.Command{
		Use:   "classify --file PLAN",
		Short: "Classify many interfaces from a plan file, inside Kentik's rate limits, resumably",
		Long: `Apply a classification plan with ManualClassify: rows with the same classification are
grouped and sent in batches of at most --batch-size ids, the fewest requests possible, as
fast as the rate-limit policy (--rate-limit, default admin) allows and never faster.

The plan is CSV with the header interface_id,connectivity_type,network_boundary,provider
(columns in any order, other columns ignored) or JSON lines with those keys; ids are
Kentik's decimal interface ids. Enum values are accepted in any case, with or without
their prefix: transit, TRANSIT, CONNECTIVITY_TYPE_TRANSIT, paid-pni. An empty
network_boundary or provider means none; an empty connectivity_type is an error (write
"unspecified" to clear it on purpose). A row that repeats an earlier one is dropped; the
same interface with two classifications is an error.

The whole plan is checked before anything is sent: with bad rows nothing is sent and
each is named by line, unless --skip-invalid (the bad rows then go to --reject-file,
PLAN.rejected by default, with a reason column).

With --journal every acknowledged batch is recorded on disk at once; run the same command
again after a crash or Ctrl-C and only what was not acknowledged is sent. Batches that
fail after the client's retries do not stop the others; their rows are written to
--failed-file (PLAN.failed by default), itself a plan you can run again. With --verify,
interfaces the server does not have are written to --missing-file (PLAN.missing by
default) instead. Refused credentials stop the job at once. The exit code is 1 when
anything was not classified.

When Kentik cannot be reached (UNAVAILABLE, connection errors, calls that time out,
rate-limit refusals, after the client's own retries), the job does not fail the batches
it sent: it stops sending, probes with one request at a time (after 1 s, 2 s, 4 s, 8 s,
then every 10 s), and resumes at full pace once Kentik answers. An outage longer than
--outage-budget (default 10m; 0 fails the batches at once instead) stops the job: the
rows not classified go to the failed file, and --journal resumes it.

A plan from stdin, a pipe or a device is copied to a temporary file first, at most
--spool-limit bytes.

With --metrics-listen ADDR the job's progress and the client's metrics (limiter waits,
push-backs, retries, calls by code) are served for Prometheus at http://ADDR/metrics
while the job runs.`,
		Example: `  kentik interfaces classify --file plan.csv --dry-run
  kentik interfaces classify --file plan.csv --journal plan.journal --verify
  kentik interfaces classify --file plan.failed
  generate-plan | kentik interfaces classify --file - --format jsonl -o json
  kentik interfaces classify --file plan.csv --journal plan.journal --metrics-listen 127.0.0.1:9464`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClassify(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "the plan: a CSV or JSON-lines file, or - for stdin (required)")
	f.StringVar(&o.format, "format", "auto", "plan format: csv, jsonl or auto (a first non-blank '{' means jsonl)")
	f.IntVar(&o.batchSize, "batch-size", classify.DefaultBatchSize, fmt.Sprintf("most interface ids per ManualClassify request (1 to %d)", classify.MaxBatchSize))
	f.BoolVar(&o.skipInvalid, "skip-invalid", false, "send the good rows of a plan with bad rows (bad rows go to --reject-file)")
	f.StringVar(&o.rejectFile, "reject-file", "", "where --skip-invalid writes the bad rows (default PLAN.rejected)")
	f.StringVar(&o.journal, "journal", "", "journal file that makes the job resumable (created if missing)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the groups, requests and the time the policy implies; send nothing")
	f.BoolVar(&o.verify, "verify", false, "read the classifications back (one ListInterface per group) and compare")
	f.StringVar(&o.failedFile, "failed-file", "", "where the rows of failed batches go, as a plan (default PLAN.failed)")
	o.metrics.add(f)
	f.StringVar(&o.missingFile, "missing-file", "", "where --verify writes the rows of interfaces that do not exist (default PLAN.missing)")
	f.StringVar(&o.spoolLimit, "spool-limit", formatSize(classify.DefaultMaxSpool), "the most a plan from stdin, a pipe or a device may hold (it is copied to a temporary file first), e.g. 500MB, 4GiB")
	f.DurationVar(&o.outage, "outage-budget", classify.DefaultOutageBudget, "how long the job waits out an outage of Kentik before it stops (0: fail the batches sent during one)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// defaultBeside names a file next to the plan, or in the working directory for stdin.
func defaultBeside(plan, suffix string) string {
	if plan == "-" {
		return "kentik-classify" + suffix
	}
	return plan + suffix
}

func runClassify(ctx context.Context, g *Globals, o classifyFlags) error {
	format, err := classify.ParseFormat(o.format)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--format: %w", err)}
	}
	if o.batchSize <= 0 || o.batchSize > classify.MaxBatchSize {
		return usagef("--batch-size %d: want 1 to %d", o.batchSize, classify.MaxBatchSize)
	}
	if o.rejectFile != "" && !o.skipInvalid {
		return usagef("--reject-file needs --skip-invalid (without it a plan with bad rows is refused whole)")
	}
	if o.skipInvalid && o.rejectFile == "" {
		o.rejectFile = defaultBeside(o.file, ".rejected")
	}
	if o.failedFile == "" {
		o.failedFile = defaultBeside(o.file, ".failed")
	}
	if err := o.metrics.check(); err != nil {
		return err
	}
	if o.missingFile == "" {
		o.missingFile = defaultBeside(o.file, ".missing")
	}
	if o.file != "-" {
		// A plan that is not there is a bad --file, as for interfaces create.
		if st, err := os.Stat(o.file); err != nil {
			return &UsageError{Err: fmt.Errorf("--file: %w", err)}
		} else if st.IsDir() {
			return usagef("--file %s is a directory: want a plan file", o.file)
		}
	}
	spoolLimit, err := parseSize(o.spoolLimit)
	if err != nil || spoolLimit <= 0 {
		return usagef("--spool-limit %q: want a positive size, e.g. 500MB or 4GiB", o.spoolLimit)
	}
	if o.outage < 0 {
		return usagef("--outage-budget %s: want 0 (do not wait outages out) or a positive duration", o.outage)
	}
	opts := classify.Options{Format: format, BatchSize: o.batchSize, SkipInvalid: o.skipInvalid, RejectFile: o.rejectFile, MaxSpool: spoolLimit}
	var plan *classify.Plan
	if o.file == "-" {
		plan, err = classify.LoadReader(ctx, "-", g.Stdin, opts)
	} else {
		plan, err = classify.Load(ctx, o.file, opts)
	}
	if errors.Is(err, classify.ErrSpoolTooLarge) {
		return fmt.Errorf("%w (--spool-limit %s)", err, formatSize(spoolLimit))
	}
	if err != nil {
		return err
	}
	defer plan.Close()
	if len(plan.IgnoredColumns) > 0 {
		g.Logger.Info("ignoring plan columns", "columns", strings.Join(plan.IgnoredColumns, ","))
	}
	if plan.Rejected > 0 {
		fmt.Fprintf(g.Stderr, "classify: %d bad row%s skipped, written to %s:\n", plan.Rejected, plural(plan.Rejected), o.rejectFile)
		for _, e := range plan.Errors {
			fmt.Fprintf(g.Stderr, "  %s\n", e)
		}
		if n := plan.Rejected - len(plan.Errors); n > 0 {
			fmt.Fprintf(g.Stderr, "  and %d more\n", n)
		}
	}
	policy := g.Policy()
	r := &classify.Runner{
		Journal:      o.journal,
		FailedFile:   o.failedFile,
		MissingFile:  o.missingFile,
		Verify:       o.verify,
		Policy:       policy,
		Logger:       g.Logger,
		CallTimeout:  g.Timeout,
		OutageBudget: o.outage,
	}
	if o.dryRun {
		s, err := r.DryRun(ctx, plan)
		if g.JSON() {
			// One document even when the journal is refused, as for a real run.
			if err != nil {
				s.Error = err.Error()
			}
			if werr := writeClassifyJSON(g.Stdout, s, plan); werr != nil && err == nil {
				err = werr
			}
			return err
		}
		if err != nil {
			return err
		}
		if err := printPlan(g.Stdout, plan); err != nil {
			return err
		}
		printSummary(g.Stdout, s)
		return nil
	}

	var retries atomic.Int64
	dialOpts := []client.Option{client.WithOnRetry(func(kentik.RetryEvent) { retries.Add(1) })}
	ms, job, metricsOpt, err := jobMetrics(g, o.metrics)
	if err != nil {
		return err
	}
	defer ms.Close()
	if ms != nil {
		// The plan's size, before the first batch reports.
		job.Observe(classify.Progress{Interfaces: plan.Interfaces, TotalRequests: plan.Requests()})
		dialOpts = append(dialOpts, metricsOpt)
		fmt.Fprintf(g.Stderr, "classify: metrics on %s while the job runs\n", ms.URL())
	}
	c, err := g.dialGRPC(ctx, dialOpts...)
	if err != nil {
		return err
	}
	defer c.Close()
	r.Client = c.Interfaces()
	r.Retries = retries.Load
	r.Progress = jobProgress(newProgressPrinter(g.Stderr, g.terminal(g.Stderr)), job)
	fmt.Fprintf(g.Stderr, "classify: %d interface%s in %d group%s, %d request%s of at most %d ids; policy %s (at least %s)\n",
		plan.Interfaces, plural(plan.Interfaces), len(plan.Groups), plural(len(plan.Groups)), plan.Requests(), plural(plan.Requests()),
		plan.BatchSize, policy, classify.Estimate(policy, plan.Requests(), 0).Round(time.Second))
	s, runErr := r.Run(ctx, plan)
	// A journal that is refused stops the job before it starts: a table of zeros would
	// only hide the error below it. -o json still prints its one document.
	refused := errors.Is(runErr, classify.ErrJournalMismatch) || errors.Is(runErr, classify.ErrJournalInUse)
	switch {
	case g.JSON():
		if err := writeClassifyJSON(g.Stdout, s, nil); err != nil && runErr == nil {
			runErr = err
		}
	case !refused:
		printSummary(g.Stdout, s)
	}
	if runErr != nil && ctx.Err() != nil && o.journal != "" {
		return fmt.Errorf("%w; run the same command again to resume from %s", runErr, o.journal)
	}
	if runErr != nil && ctx.Err() != nil {
		return fmt.Errorf("%w; use --journal next time to make the job resumable", runErr)
	}
	if errors.Is(runErr, classify.ErrOutage) {
		hint := "allow a longer --outage-budget"
		if o.journal == "" {
			hint += ", and use --journal to make the job resumable"
		}
		return fmt.Errorf("%w (--outage-budget %s: %s)", runErr, o.outage, hint)
	}
	return runErr
}

// jobMetrics starts the metrics server of --metrics-listen for a classify job, with the
// client's metrics (the client takes opt), the job's and the extra collectors; all nil
// without --metrics-listen.
func jobMetrics(g *Globals, mf metricsFlags, extra ...prometheus.Collector) (*metricsServer, *kentikprom.JobMetrics, client.Option, error) {
	ms, err := startMetrics(g, mf)
	if ms == nil || err != nil {
		return nil, nil, nil, err
	}
	m, err := kentikprom.New(ms.reg)
	var job *kentikprom.JobMetrics
	if err == nil {
		job, err = kentikprom.NewJobMetrics(ms.reg)
	}
	if err == nil {
		err = ms.Register(extra...)
	}
	if err != nil {
		ms.Close()
		return nil, nil, nil, err
	}
	return ms, job, m.ClientOption(), nil
}

// jobProgress is a job's Runner.Progress: pp prints each report, and job, when set,
// observes it.
func jobProgress(pp *progressPrinter, job *kentikprom.JobMetrics) func(classify.Progress) {
	if job == nil {
		return pp.Report
	}
	return func(p classify.Progress) {
		job.Observe(p)
		pp.Report(p)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// writeClassifyJSON prints the summary (and, for a dry run, the groups) as one JSON
// document, streamed: a plan may have a million groups, which built as one value would
// cost gigabytes. The document is what encoding/json writes for the summary with a
// "plan_groups" array added, indented by two spaces.
func writeClassifyJSON(w io.Writer, s *classify.Summary, plan *classify.Plan) error {
	head, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if plan == nil || len(plan.Groups) == 0 {
		bw.Write(head)
		bw.WriteByte('\n')
		return bw.Flush()
	}
	// The summary without its closing brace, then the array.
	bw.Write(bytes.TrimRight(head[:len(head)-1], "\n"))
	bw.WriteString(",\n  \"plan_groups\": [")
	type group struct {
		ConnectivityType string `json:"connectivity_type"`
		NetworkBoundary  string `json:"network_boundary"`
		Provider         string `json:"provider"`
		Interfaces       int    `json:"interfaces"`
		Requests         int    `json:"requests"`
	}
	for i, g := range plan.Groups {
		b, err := json.MarshalIndent(group{
			ConnectivityType: g.ConnectivityType.String(), NetworkBoundary: g.NetworkBoundary.String(),
			Provider: g.Provider, Interfaces: g.Interfaces, Requests: g.Batches,
		}, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		if _, err := bw.Write(b); err != nil {
			return err // the writer failed: stop here
		}
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

// printPlan prints the groups of a plan as a table, streamed (a plan may have a million
// groups, which text/tabwriter would hold whole before writing a line): the column
// widths are measured in a first pass over the groups, then each line is written, laid
// out as text/tabwriter would (padding 2, widths in runes).
func printPlan(w io.Writer, p *classify.Plan) error {
	header := [4]string{"GROUP", "CLASSIFICATION", "INTERFACES", "REQUESTS"}
	total := [4]string{"total", "", strconv.Itoa(p.Interfaces), strconv.Itoa(p.Requests())}
	var width [3]int // of the first three columns; the last is not padded
	for c := range width {
		width[c] = max(utf8.RuneCountInString(header[c]), utf8.RuneCountInString(total[c]))
	}
	cw := classificationWidths{}
	for _, g := range p.Groups {
		width[0] = max(width[0], decimalWidth(g.Index))
		width[1] = max(width[1], cw.of(g.Classification))
		width[2] = max(width[2], decimalWidth(g.Interfaces))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	line := func(cells [4]string) error {
		for c, cell := range cells[:3] {
			bw.WriteString(cell)
			for n := utf8.RuneCountInString(cell); n < width[c]+2; n++ {
				bw.WriteByte(' ')
			}
		}
		bw.WriteString(cells[3])
		_, err := bw.WriteString("\n")
		return err
	}
	if err := line(header); err != nil {
		return err
	}
	for _, g := range p.Groups {
		if err := line([4]string{strconv.Itoa(g.Index), g.Classification.String(), strconv.Itoa(g.Interfaces), strconv.Itoa(g.Batches)}); err != nil {
			return err // the writer failed: stop here
		}
	}
	line(total)
	bw.WriteString("\n")
	return bw.Flush()
}

// decimalWidth is the number of digits of n >= 0.
func decimalWidth(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// classificationWidths measures Classification.String() without building it: the width
// of the enum names, of which a plan has few, is remembered.
type classificationWidths struct {
	ct map[ifacev1.ConnectivityType]int
	nb map[ifacev1.NetworkBoundary]int
}

func (w *classificationWidths) of(c classify.Classification) int {
	if w.ct == nil {
		w.ct, w.nb = map[ifacev1.ConnectivityType]int{}, map[ifacev1.NetworkBoundary]int{}
	}
	ct, ok := w.ct[c.ConnectivityType]
	if !ok {
		ct = utf8.RuneCountInString(enums.ConnectivityTypeName(c.ConnectivityType))
		w.ct[c.ConnectivityType] = ct
	}
	nb, ok := w.nb[c.NetworkBoundary]
	if !ok {
		nb = utf8.RuneCountInString(enums.NetworkBoundaryName(c.NetworkBoundary))
		w.nb[c.NetworkBoundary] = nb
	}
	p := utf8.RuneCountInString(c.Provider)
	if c.Provider == "" {
		p = 1 // "-"
	}
	return ct + 1 + nb + 1 + p
}

// printSummary prints what a run (or a dry run) did.
func printSummary(w io.Writer, s *classify.Summary) {
	tw := newTable(w)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("plan", "%s (%s, sha256 %.12s)", s.Plan, s.Format, s.PlanSHA256)
	row("rows", "%d: %d interfaces, %d duplicates dropped, %d rejected", s.Rows, s.Interfaces, s.Duplicates, s.Rejected)
	row("groups", "%d, batch size %d, %d request%s planned", s.Groups, s.BatchSize, s.Requests, plural(s.Requests))
	if s.DryRun {
		if s.AlreadyDone > 0 {
			row("journal", "%d interfaces in %d batches already done", s.AlreadyDone, s.Resumed)
		}
		if s.JournalRejected > 0 {
			row("journal", "%d acknowledgement%s that do not match their batches (changed, or copied from another journal): sent again", s.JournalRejected, plural(s.JournalRejected))
		}
		row("policy", "%s", s.Policy)
		if s.PolicyRate > 0 {
			row("time", "at least %s for %d requests (hard limit %.2f req/s; soft-limit delays included)",
				s.Estimated.Round(time.Second), s.Requests-s.Resumed, s.PolicyRate)
		} else {
			row("time", "no limit")
		}
		row("sent", "nothing (dry run)")
		tw.Flush()
		return
	}
	row("classified", "%d (%d already done by the journal, %d batches skipped)", s.Classified, s.AlreadyDone, s.Resumed)
	if s.JournalRejected > 0 {
		row("journal", "%d acknowledgement%s did not match their batches (changed, or copied from another journal): sent again", s.JournalRejected, plural(s.JournalRejected))
	}
	if s.Retries != nil {
		row("requests", "%d sent, %d retries", s.Sent, *s.Retries)
	} else {
		row("requests", "%d sent (retries not counted)", s.Sent)
	}
	if s.Outages > 0 || s.Resent > 0 {
		row("outages", "%d, %s waited out (budget %s); %d request%s sent again after transient failures",
			s.Outages, s.OutageTime.Round(10*time.Millisecond), s.OutageBudget, s.Resent, plural(s.Resent))
	}
	if s.Failed > 0 || s.FailedBatches > 0 {
		row("failed", "%d interfaces in %d batches", s.Failed, s.FailedBatches)
	}
	if s.Remaining > 0 {
		row("not sent", "%d interfaces", s.Remaining)
	}
	if s.VerifyRequests > 0 {
		row("verified", "%d confirmed, %d mismatched, %d missing (%d ListInterface requests)", s.Verified, s.Mismatched, s.Missing, s.VerifyRequests)
	}
	if s.FailedFile != "" {
		row("failed file", "%s", s.FailedFile)
	}
	if s.MissingFile != "" {
		row("missing file", "%s", s.MissingFile)
	}
	for _, f := range s.RemovedFiles {
		row("removed", "%s: left by an earlier run, and everything is classified now", f)
	}
	row("elapsed", "%s", s.Elapsed.Round(10*time.Millisecond))
	switch {
	case s.FitsInWindow:
		// Too few requests to fill a window: the policy allows them at once, and
		// no rate, however high, violates it.
		row("rate", "%.2f req/s: %d request%s fit in one window of the policy, which allows them at once", s.Rate, s.Sent, plural(s.Sent))
	case s.PolicyRate > 0 && s.BestRate > s.PolicyRate:
		// A job short enough to fit in a window may go faster than the hard limit's
		// long-run rate: a percentage of that rate above 100 would read as a violation.
		row("rate", "%.2f req/s: %.0f%% of the most the policy allows for %d requests (%.2f req/s; so few fit in one window, above the long-run hard limit of %.2f req/s)",
			s.Rate, 100*s.BestRatio, s.Sent, s.BestRate, s.PolicyRate)
	case s.PolicyRate > 0 && s.BestRate > 0:
		row("rate", "%.2f req/s: %.0f%% of the hard limit (%.2f req/s), %.0f%% of the most the soft-limit delays allow (%.2f req/s)",
			s.Rate, 100*s.RateRatio, s.PolicyRate, 100*s.BestRatio, s.BestRate)
	case s.PolicyRate > 0:
		row("rate", "%.2f req/s: %.0f%% of the hard limit (%.2f req/s)", s.Rate, 100*s.RateRatio, s.PolicyRate)
	default:
		row("rate", "%.2f req/s", s.Rate)
	}
	row("policy", "%s", s.Policy)
	tw.Flush()
}
