package classify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/ratelimit"
)

// Errors that Run wraps when a job did not classify everything.
var (
	// ErrFailed: some batches failed for good (after the client's retries); their rows
	// are in the failed file.
	ErrFailed = errors.New("classify: some interfaces could not be classified")
	// ErrVerify: verification found interfaces that do not carry their planned
	// classification; their rows are in the failed file.
	ErrVerify = errors.New("classify: verification found interfaces without their planned classification")
	// ErrMissing: verification found interfaces that the server does not have; their
	// rows are in the missing file (sending them again cannot help).
	ErrMissing = errors.New("classify: verification found interfaces that do not exist")
	// ErrStopped: the server refused the credentials (UNAUTHENTICATED or
	// PERMISSION_DENIED), so the job stopped at once; nothing else was sent.
	ErrStopped = errors.New("classify: the job was stopped")
)

// See also ErrOutage.

// Runner sends the batches of a Plan with ManualClassify. Pacing and retries are the
// client's (use a client built with a rate-limit policy); the runner keeps Workers calls
// outstanding so the client's limiter always has the next request ready, and never sends
// on its own schedule but to probe during an outage (see OutageBudget).
type Runner struct {
	// Client sends the requests; required.
	Client ifacev1.InterfaceServiceClient
	// Workers is the number of calls in flight; 0 means Policy.Concurrency, or 1 when
	// the policy has no concurrency cap. More workers than the policy's concurrency
	// only queue in the limiter.
	Workers int
	// Journal, when set, is the journal file that makes the job resumable: batches it
	// holds are skipped, and each acknowledged batch is added (and synced) at once.
	// Run locks it while it runs (on Unix): a second job on the same journal fails with
	// ErrJournalInUse.
	Journal string
	// FailedFile, when set, receives the rows of failed batches and of verification
	// mismatches, as a CSV plan that can be run again as it is. It is only created
	// when something failed. Run refuses one that is the plan or the journal. After a
	// run that classified everything, a failed file of an earlier run there is removed.
	FailedFile string
	// MissingFile, when set, receives the rows of interfaces that verification found
	// the server does not have, as a CSV plan (for the record: running it cannot
	// succeed until they exist). Like FailedFile, it is only created when needed, and a
	// stale one is removed after a run that classified everything.
	MissingFile string
	// Verify reads the classifications back after sending (one ListInterface per
	// group, filtered by the group's classification, and one more, unfiltered, when
	// some interfaces were not found with their classification, to tell a missing
	// interface from a misclassified one) and compares them.
	Verify bool
	// Policy is the rate-limit policy the client enforces; the runner uses it only
	// for the ETA and to compare the achieved rate with the policy's.
	Policy ratelimit.Policy
	// Progress, when set, is called after every batch, and while the job waits an
	// outage out (see OutageBudget), from one goroutine at a time.
	Progress func(Progress)
	// Retries, when set, returns how many retries the client made so far (read at
	// the start and at the end; the summary reports the difference).
	Retries func() int64
	// Logger receives a warning per failed batch; nil means none.
	Logger *slog.Logger
	// CallOptions are added to every ManualClassify and ListInterface call.
	CallOptions []grpc.CallOption
	// CallTimeout, when positive, bounds each call, the client's rate-limit wait and
	// retries included; a call that runs out of time fails its batch (the others go
	// on), unless OutageBudget is set. With steady pacing the wait is about one
	// MinInterval, so the CLI's 30 s default only catches a server that stopped
	// answering.
	CallTimeout time.Duration

	// OutageBudget, when positive, makes the job ride out an outage instead of failing
	// the batches sent during it. A batch whose call fails transiently after the
	// client's own retries (UNAVAILABLE, connection errors included; DEADLINE_EXCEEDED
	// of the call, see CallTimeout; RESOURCE_EXHAUSTED of a rate limit, a push-back
	// longer than the client waits included) is kept to be sent again, and the job
	// stops sending: the failure already stands for the client's attempts (5 over about
	// 4 s by default). It probes with one call at a time on OutageProbe's backoff, and
	// resumes at full pace, the kept batches first, as soon as a call gets an answer.
	// An outage that lasts longer than OutageBudget (counted from when the first failed
	// call was sent) stops the job with ErrOutage: the batches not classified, sent or
	// not, go to FailedFile, and the journal resumes the job.
	//
	// Permanent errors fail their batch (or, for refused credentials, stop the job) at
	// once, as without a budget. Only batches that failed are sent again, so at most
	// the batches in flight when Kentik went away can reach it twice; ManualClassify
	// may be sent again (kentik.IdempotentMethod). A batch that keeps failing while
	// Kentik answers other calls fails after 5 tries; when nothing else is left to
	// send, it cannot be told from an outage, and is waited out too.
	//
	// 0 keeps the behaviour of a job without it: a transient failure after the client's
	// retries fails its batch. The kentik command uses DefaultOutageBudget.
	OutageBudget time.Duration
	// OutageProbe is the backoff between probes during an outage: the wait before probe
	// n is OutageProbe.Backoff(n+1), or the server's push-back when longer (MaxAttempts
	// and MaxPushBack are not used: OutageBudget bounds the probing). The zero value
	// means DefaultOutageProbe; other zero fields take kentik.DefaultRetryPolicy's.
	OutageProbe kentik.RetryPolicy
}

// callCtx applies CallTimeout.
func (r *Runner) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.CallTimeout > 0 {
		return context.WithTimeout(ctx, r.CallTimeout)
	}
	return ctx, func() {}
}

// Progress is a snapshot of a running job.
type Progress struct {
	Interfaces    int           // interfaces in the plan
	Done          int           // classified, including those an earlier run journaled
	Failed        int           // interfaces in failed batches
	Requests      int           // ManualClassify requests completed in this run, one per batch (see Resent)
	TotalRequests int           // requests this run has to make (plan minus journal)
	Elapsed       time.Duration // since the run started
	Rate          float64       // requests per second so far
	ETA           time.Duration // estimated time left (0 when unknown or done)
	Final         bool          // the last report

	// FailedRequests are the requests of this run that failed for good (after the
	// client's retries).
	FailedRequests int
	// Retries is how many retries the client made in this run, when Runner.Retries is
	// set (0 otherwise).
	Retries int64

	// Unreachable is how long Kentik has been unreachable while the job waits an
	// outage out (see Runner.OutageBudget), counted from the first failed call of the
	// outage; 0 when the job is not waiting. Progress is then also called about once a
	// second, and after every probe.
	Unreachable time.Duration
	// RetryEvery is the wait before the next probe during an outage (its backoff);
	// 0 when the job is not waiting one out.
	RetryEvery time.Duration
	// Outages counts the outages of this run, the current one included; OutageTime is
	// the time spent in them.
	Outages    int
	OutageTime time.Duration
	// Resent counts the requests this run sent again after a transient failure
	// (probes included), on top of the client's own retries.
	Resent int
}

// Summary is what a run did. Its JSON form is what `kentik interfaces classify -o json`
// prints.
type Summary struct {
	Plan       string `json:"plan"`
	PlanSHA256 string `json:"plan_sha256"`
	Format     string `json:"format"`
	DryRun     bool   `json:"dry_run,omitempty"`

	Rows       int `json:"rows"`
	Interfaces int `json:"interfaces"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	Groups     int `json:"groups"`
	BatchSize  int `json:"batch_size"`
	Requests   int `json:"requests_planned"`

	AlreadyDone   int    `json:"already_done"`    // interfaces an earlier run journaled
	Classified    int    `json:"classified"`      // interfaces acknowledged in this run
	Failed        int    `json:"failed"`          // interfaces in failed batches
	FailedBatches int    `json:"failed_batches"`  //
	Remaining     int    `json:"remaining"`       // not sent (stopped or interrupted)
	Sent          int    `json:"requests_sent"`   // ManualClassify requests completed, one per batch sent (see Resent)
	Retries       *int64 `json:"retries"`         // retries the client made; nil (null) when Runner.Retries is not set
	Resumed       int    `json:"batches_skipped"` // batches skipped thanks to the journal
	FailedFile    string `json:"failed_file,omitempty"`

	// JournalRejected counts the journal's acknowledgements whose checksum did not match
	// their batch (changed, or copied from another journal): those batches were sent
	// again (a dry run: would be), not skipped.
	JournalRejected int    `json:"journal_acks_rejected,omitempty"`
	MissingFile     string `json:"missing_file,omitempty"` // where verification wrote the interfaces that do not exist
	// RemovedFiles are the failed and missing files left by an earlier run, removed
	// because this run classified everything.
	RemovedFiles []string `json:"removed_files,omitempty"`

	Verified       int `json:"verified,omitempty"`
	Mismatched     int `json:"mismatched,omitempty"` // listed with another classification
	Missing        int `json:"missing,omitempty"`    // not listed at all: the server has no such interface
	VerifyRequests int `json:"verify_requests,omitempty"`

	Elapsed      time.Duration `json:"-"`
	ElapsedSec   float64       `json:"elapsed_seconds"`
	Rate         float64       `json:"request_rate"`               // ManualClassify requests per second while sending
	PolicyRate   float64       `json:"policy_request_rate"`        // the policy's hard-limit rate (1/MinInterval); 0 without limit
	RateRatio    float64       `json:"rate_ratio,omitempty"`       // Rate / PolicyRate (not set when FitsInWindow)
	BestRate     float64       `json:"policy_best_rate,omitempty"` // the most the policy allows for this many requests, soft delays included (see Estimate)
	BestRatio    float64       `json:"best_rate_ratio,omitempty"`  // Rate / BestRate
	Policy       string        `json:"policy"`
	Estimated    time.Duration `json:"-"`
	EstimatedSec float64       `json:"estimated_seconds,omitempty"` // dry run: the least time the policy allows
	Error        string        `json:"error,omitempty"`

	// FitsInWindow: the requests sent were too few to fill any window of the policy,
	// which allows them all at once, so no rate can violate it (and a ratio to the
	// long-run rate would mean nothing: RateRatio and BestRate are not set).
	FitsInWindow bool `json:"fits_in_one_window,omitempty"`

	// Outages the job waited out (or stopped in: see ErrOutage), the time spent in them
	// (from the first failed call to the first answer), and the requests it sent again
	// after a transient failure, probes included (the client's own retries are in
	// Retries). Rate counts the outages' time in: the limiter lets a burst through once
	// its windows emptied during one, so a rate without it would seem to beat the
	// policy.
	OutageBudget    time.Duration `json:"-"`
	OutageBudgetSec float64       `json:"outage_budget_seconds"` // Runner.OutageBudget; 0: outages are not waited out
	Outages         int           `json:"outages"`
	OutageTime      time.Duration `json:"-"`
	OutageSec       float64       `json:"outage_seconds"`
	Resent          int           `json:"requests_resent"`
}

// fatal reports whether a ManualClassify error must stop the whole job: the server
// refused the credentials, so every other batch would fail the same way.
func fatal(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}

func (r *Runner) workers() int {
	switch {
	case r.Workers > 0:
		return r.Workers
	case r.Policy.Concurrency > 0:
		return r.Policy.Concurrency
	}
	return 1
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) newSummary(p *Plan) *Summary {
	s := &Summary{
		Plan: p.Name, PlanSHA256: p.SHA256, Format: p.Format.String(),
		Rows: p.Rows, Interfaces: p.Interfaces, Duplicates: p.Duplicates, Rejected: p.Rejected,
		Groups: len(p.Groups), BatchSize: p.BatchSize, Requests: p.Requests(),
		Policy: r.Policy.String(), OutageBudget: max(r.OutageBudget, 0),
	}
	s.OutageBudgetSec = s.OutageBudget.Seconds()
	if iv := r.Policy.MinInterval(); iv > 0 {
		s.PolicyRate = float64(time.Second) / float64(iv)
	}
	return s
}

// DryRun reports what Run would do without sending anything: the plan's counts, what a
// journal (if set; read, never written) says is done already, and the least time the
// policy allows for the remaining requests (see Estimate).
func (r *Runner) DryRun(ctx context.Context, p *Plan) (*Summary, error) {
	s := r.newSummary(p)
	s.DryRun = true
	left := s.Requests
	if r.Journal != "" {
		j, err := openJournal(r.Journal, p, true)
		if err != nil {
			return s, err
		}
		if n, _ := j.doneCounts(); n > 0 {
			// Verify the acknowledgements against the plan's batches, as a run would.
			err := p.Batches(ctx, func(b Batch) error {
				if _, rejected := j.check(b); rejected {
					s.JournalRejected++
				}
				return nil
			})
			if err != nil {
				return s, err
			}
		}
		s.Resumed, s.AlreadyDone = j.doneCounts()
		left -= s.Resumed
	}
	s.Remaining = s.Interfaces - s.AlreadyDone
	s.Estimated = Estimate(r.Policy, left, 0)
	s.EstimatedSec = s.Estimated.Seconds()
	return s, ctx.Err()
}

// Run sends the plan's batches and returns what happened. The Summary is never nil. The
// error is nil only when every interface of the plan is classified (and, with Verify,
// confirmed); otherwise it wraps ErrFailed, ErrVerify and ErrMissing (with Verify),
// ErrOutage (an outage outlasted OutageBudget), ErrStopped (credentials refused),
// ErrJournalMismatch, ErrJournalInUse, ErrPlanChanged, or the context's error when the
// job was interrupted (rerun with the same journal to finish it).
func (r *Runner) Run(ctx context.Context, p *Plan) (*Summary, error) {
	s := r.newSummary(p)
	// refused ends a job before anything is sent: everything not journaled remains.
	refused := func(err error) (*Summary, error) {
		s.Remaining = s.Interfaces - s.AlreadyDone
		s.Error = err.Error()
		return s, err
	}
	if r.Client == nil {
		return refused(errors.New("classify: Runner.Client is nil"))
	}
	start := time.Now()
	var retries0 int64
	if r.Retries != nil {
		retries0 = r.Retries()
	}
	var j *journal
	if r.Journal != "" {
		var err error
		if j, err = openJournal(r.Journal, p, false); err != nil {
			return refused(err)
		}
		defer j.close()
		if j.unlocked {
			r.logger().Warn("the journal's file system cannot lock files: a second job on this journal would not be refused", "journal", r.Journal)
		}
		s.Resumed, s.AlreadyDone = j.doneCounts()
	}
	// After the journal is opened: a new one exists by now.
	if err := r.checkFiles(p); err != nil {
		return refused(err)
	}
	fw := &failedWriter{path: r.FailedFile}
	defer fw.close()
	mw := &failedWriter{path: r.MissingFile}
	defer mw.close()

	st := &runState{r: r, s: s, p: p, j: j, fw: fw, mw: mw, start: start, failedKeys: map[batchKey]bool{}}
	st.total = s.Requests - s.Resumed
	st.retries0 = retries0
	err := st.send(ctx)

	s.Remaining = s.Interfaces - s.AlreadyDone - s.Classified - s.Failed
	if err == nil && st.outageStopped {
		err = r.outageError(s)
	}
	if err == nil && r.Verify {
		err = st.verify(ctx)
	}
	if cerr := fw.close(); cerr != nil && err == nil {
		err = fmt.Errorf("classify: writing the failed file: %w", cerr)
	}
	if cerr := mw.close(); cerr != nil && err == nil {
		err = fmt.Errorf("classify: writing the missing file: %w", cerr)
	}
	if fw.n > 0 && r.FailedFile != "" {
		s.FailedFile = r.FailedFile
	}
	if mw.n > 0 && r.MissingFile != "" {
		s.MissingFile = r.MissingFile
	}
	if err == nil && s.Failed > 0 {
		err = fmt.Errorf("%w: %d interface%s in %d batch%s%s", ErrFailed, s.Failed, plural(s.Failed), s.FailedBatches, pluralES(s.FailedBatches), r.failedHint())
	}
	if err == nil {
		err = verifyError(s, r)
	}
	if err == nil && s.Remaining > 0 {
		err = fmt.Errorf("classify: %d interfaces were not sent", s.Remaining)
	}
	if err == nil {
		for _, path := range []string{r.FailedFile, r.MissingFile} {
			if removeStale(path) {
				s.RemovedFiles = append(s.RemovedFiles, path)
				r.logger().Info("removed a file of an earlier run: everything is classified now", "file", path)
			}
		}
	}
	if r.Retries != nil {
		n := r.Retries() - retries0
		s.Retries = &n
	}
	s.Elapsed = time.Since(start)
	s.ElapsedSec = s.Elapsed.Seconds()
	s.OutageSec = s.OutageTime.Seconds()
	s.Rate = st.rateLocked() // every call has ended
	if s.PolicyRate > 0 && s.Sent > 0 {
		// The least time the policy allows for this many requests: none means it
		// allows them all at once (they fit in every window, below every soft limit).
		if best := Estimate(r.Policy, s.Sent, 0); best > 0 {
			s.RateRatio = s.Rate / s.PolicyRate
			s.BestRate = float64(s.Sent) / best.Seconds()
			s.BestRatio = s.Rate / s.BestRate
		} else {
			s.FitsInWindow = true
		}
	}
	if err != nil {
		s.Error = err.Error()
	}
	if r.Progress != nil {
		pr := st.progress()
		pr.Final = true
		r.Progress(pr)
	}
	return s, err
}

// checkFiles refuses a failed file that is the plan or the journal: created at the first
// failure, it would truncate the plan while pass 2 reads it (rerunning plan.failed with
// --failed-file plan.failed loses every row not yet sent), or the journal under its own
// appends.
func (r *Runner) checkFiles(p *Plan) error {
	if r.FailedFile != "" && sameFile(r.FailedFile, p.Path) {
		return fmt.Errorf("classify: the failed file %s is the plan itself: it would be overwritten while the job reads it; name another failed file", r.FailedFile)
	}
	if r.FailedFile != "" && r.Journal != "" && sameFile(r.FailedFile, r.Journal) {
		return fmt.Errorf("classify: the failed file %s is the journal: name another failed file", r.FailedFile)
	}
	if r.MissingFile != "" {
		for _, other := range []string{p.Path, r.Journal, r.FailedFile} {
			if other != "" && (other == r.MissingFile || sameFile(r.MissingFile, other)) {
				return fmt.Errorf("classify: the missing file %s is also the plan, the journal or the failed file: name another missing file", r.MissingFile)
			}
		}
	}
	return nil
}

// removeStale removes the file at path if it is a failed file (a regular file that
// starts with a plan's header, as failedWriter writes it), and reports whether it did.
// After a run that classified everything, a failed file of an earlier run would only
// mislead; a file that is not one is left alone.
func removeStale(path string) bool {
	if path == "" {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	st, err := f.Stat()
	head := make([]byte, len(failedHeader))
	if err == nil && st.Mode().IsRegular() {
		_, err = io.ReadFull(f, head)
	}
	f.Close()
	return err == nil && st.Mode().IsRegular() && string(head) == failedHeader && os.Remove(path) == nil
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// verifyError is the error for what verification found, nil when it found nothing:
// ErrVerify for mismatched interfaces, ErrMissing for missing ones, or both.
func verifyError(s *Summary, r *Runner) error {
	var errs []error
	if s.Mismatched > 0 {
		errs = append(errs, fmt.Errorf("%w: %d interface%s%s", ErrVerify, s.Mismatched, plural(s.Mismatched), r.failedHint()))
	}
	if s.Missing > 0 {
		hint := ""
		if r.MissingFile != "" {
			hint = "; their rows are in " + r.MissingFile
		}
		errs = append(errs, fmt.Errorf("%w: %d interface%s%s", ErrMissing, s.Missing, plural(s.Missing), hint))
	}
	return errors.Join(errs...)
}

// outageError is the error of a job that an outage stopped.
func (r *Runner) outageError(s *Summary) error {
	hint := r.failedHint()
	if r.Journal != "" {
		hint += "; or run the job again with the journal " + r.Journal + " to finish it"
	}
	return fmt.Errorf("%w (Runner.OutageBudget %v): the job stopped; %d interface%s not classified, %d of them in %d failed batch%s%s",
		ErrOutage, r.OutageBudget, s.Failed+s.Remaining, plural(s.Failed+s.Remaining), s.Failed, s.FailedBatches, pluralES(s.FailedBatches), hint)
}

func (r *Runner) failedHint() string {
	if r.FailedFile == "" {
		return ""
	}
	return "; their rows are in " + r.FailedFile + " (run it as a plan to retry them)"
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}

// runState is one Run's bookkeeping.
type runState struct {
	r     *Runner
	s     *Summary
	p     *Plan
	j     *journal
	fw    *failedWriter // failed batches and mismatched interfaces
	mw    *failedWriter // missing interfaces
	start time.Time
	total int // requests to make in this run

	mu            sync.Mutex // guards the fields below and s's counters while sending
	firstStart    time.Time
	lastEnd       time.Time
	failedKeys    map[batchKey]bool
	retries0      int64     // Runner.Retries at the start
	outageStart   time.Time // of the outage under way; zero when none
	outageEvery   time.Duration
	outageStopped bool // an outage outlasted the budget
}

// send runs the producer (pass 2 over the plan) and the dispatcher, which keeps up to
// Workers calls in flight, each on a goroutine of its own, and books their outcomes one
// at a time.
func (st *runState) send(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	r := st.r
	n := r.workers()
	ch := make(chan Batch, n) // one batch ready per call in flight keeps the limiter fed
	var prodErr error
	go func() {
		defer close(ch)
		prodErr = st.p.Batches(ctx, func(b Batch) error {
			if st.j != nil {
				done, rejected := st.j.check(b)
				if done {
					return nil
				}
				if rejected {
					st.rejectedAck(b)
				}
			}
			select {
			case ch <- b:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		if prodErr != nil {
			cancel(prodErr)
		}
	}()
	d := &dispatcher{st: st, ctx: ctx, cancel: cancel, n: n, ch: ch, results: make(chan result, n)}
	d.run()
	// The producer is done: it closed ch after setting prodErr.
	if parent.Err() != nil {
		return fmt.Errorf("classify: interrupted: %w", context.Cause(parent))
	}
	if cause := context.Cause(ctx); cause != nil {
		return cause // credentials refused, journal or failed file unwritable, plan changed
	}
	return prodErr
}

// rejectedAck books a journal acknowledgement that did not match its batch: the batch,
// counted as done when the journal was opened, is to be sent after all.
func (st *runState) rejectedAck(b Batch) {
	st.mu.Lock()
	st.s.JournalRejected++
	st.s.Resumed--
	st.s.AlreadyDone -= len(b.IDs)
	st.total++
	st.mu.Unlock()
	st.r.logger().Warn("the journal's acknowledgement of a batch does not match its ids (changed, or copied from another journal): sending the batch again",
		"journal", st.r.Journal, "group", b.Classification.String(), "batch", b.Seq)
}

// pending is a batch on its way: sent once or more, or waiting to be sent again after
// a transient failure.
type pending struct {
	b     Batch
	sends int // calls made for it so far
	lone  int // transient failures at moments Kentik answered other calls
}

// result is the outcome of one call.
type result struct {
	p          *pending
	err        error
	start, end time.Time
}

// dispatcher decides what is sent when: at full pace (up to n calls in flight, the
// batches to send again first), or, during an outage, one probe at a time on the
// outage policy's backoff. It runs on one goroutine, which alone books the outcomes.
type dispatcher struct {
	st      *runState
	ctx     context.Context
	cancel  context.CancelCauseFunc
	n       int
	ch      <-chan Batch
	results chan result // buffered for n: a call never waits to report

	chClosed bool
	inflight int
	queue    []*pending // batches to send again, oldest first
	out      *outageState
}

// halted reports whether nothing more is to be sent: the job was interrupted or
// stopped, or an outage outlasted the budget.
func (d *dispatcher) halted() bool { return d.ctx.Err() != nil || d.out.stopped }

// canSend reports whether a call may start now.
func (d *dispatcher) canSend() bool {
	if d.out.active {
		return d.inflight == 0 && d.out.probeDue
	}
	return d.inflight < d.n
}

func (d *dispatcher) run() {
	d.out = newOutageState(d.st.r)
	defer d.out.stopTimers()
	for {
		halted := d.halted()
		if d.chClosed && d.inflight == 0 && (halted || len(d.queue) == 0) {
			return
		}
		if !halted && d.canSend() {
			if p := d.pick(); p != nil {
				d.launch(p)
				continue
			}
		}
		var in <-chan Batch
		if !d.chClosed && (halted || d.canSend()) {
			in = d.ch // when halted, to drain what the producer still sends
		}
		var done <-chan struct{}
		if !halted {
			done = d.ctx.Done()
		}
		select {
		case b, ok := <-in:
			switch {
			case !ok:
				d.chClosed = true
			case halted:
				d.unsent(b)
			default:
				d.launch(&pending{b: b})
			}
		case res := <-d.results:
			d.inflight--
			d.book(res)
		case <-d.out.timerC():
			d.out.scheduled, d.out.probeDue = false, true
		case <-d.out.tickerC():
			d.st.report()
		case <-done:
		}
	}
}

// pick returns the batch to send next when one is ready: at full pace, the oldest batch
// to send again; during an outage, a new batch if one is ready, so that a batch that
// alone keeps failing does not keep the job waiting, else the oldest to send again.
// nil means: take the next new batch when it comes.
func (d *dispatcher) pick() *pending {
	if d.out.active && !d.chClosed {
		select {
		case b, ok := <-d.ch:
			if ok {
				return &pending{b: b}
			}
			d.chClosed = true
		default:
		}
	}
	if len(d.queue) == 0 {
		return nil
	}
	p := d.queue[0]
	d.queue[0] = nil
	d.queue = d.queue[1:]
	return p
}

// launch starts a call for p.
func (d *dispatcher) launch(p *pending) {
	st := d.st
	d.inflight++
	if d.out.active {
		d.out.probes++
		d.out.probeDue = false
	}
	t0 := time.Now()
	st.mu.Lock()
	if st.firstStart.IsZero() {
		st.firstStart = t0
	}
	if p.sends > 0 {
		st.s.Resent++
	}
	st.mu.Unlock()
	p.sends++
	go func() {
		cctx, done := st.r.callCtx(d.ctx)
		_, err := st.r.Client.ManualClassify(cctx, p.b.Request(p.b.IDs), st.r.CallOptions...)
		done()
		d.results <- result{p: p, err: err, start: t0, end: time.Now()}
	}()
}

// book books the outcome of a call.
func (d *dispatcher) book(res result) {
	if res.err != nil && d.ctx.Err() != nil {
		return // interrupted: the batch stays unsent (and unjournaled)
	}
	o := d.out
	switch {
	case res.err != nil && o.enabled() && !o.stopped && transient(res.err):
		if d.transient(res) {
			d.probeOrStop()
			d.st.report()
			return
		}
	case o.active && res.start.Before(o.start):
		// An answer to a call sent before the outage began: Kentik may have handled it
		// before it went away, so it ends nothing.
	default:
		o.streak = 0
		if o.active {
			d.endOutage(res.end)
		}
	}
	d.st.booked(d.cancel, res)
	d.probeOrStop()
}

// transient books a transient failure while the outage budget lasts: the batch is kept
// to be sent again, and an outage begins if none is under way. It returns false when the
// batch fails for good instead.
func (d *dispatcher) transient(res result) bool {
	o, p := d.out, res.p
	if o.streak == 0 {
		p.lone++
	}
	o.streak++
	if p.lone >= maxLoneFailures {
		d.st.r.logger().Warn("a batch keeps failing while Kentik answers other calls: giving it up",
			"group", p.b.Classification.String(), "batch", p.b.Seq, "failures", p.lone)
		return false
	}
	d.queue = append(d.queue, p)
	o.lastErr = res.err
	if !o.active {
		d.beginOutage(res.start)
	}
	return true
}

// probeOrStop schedules the next probe of an outage once no call is in flight, or stops
// the job when the budget is spent.
func (d *dispatcher) probeOrStop() {
	o := d.out
	if !o.active || d.inflight > 0 || o.scheduled || o.probeDue {
		return
	}
	now := time.Now()
	if !now.Before(o.deadline()) {
		d.stopOutage(now)
		return
	}
	o.schedule(now, o.lastErr)
	d.st.mu.Lock()
	d.st.outageEvery = o.every
	d.st.mu.Unlock()
}

func (d *dispatcher) beginOutage(t time.Time) {
	st, o := d.st, d.out
	o.begin(t)
	st.mu.Lock()
	st.s.Outages++
	st.outageStart = o.start
	st.mu.Unlock()
	st.r.logger().Info("Kentik unreachable: the job stops sending and probes with one call at a time",
		"since", o.start, "outage_budget", o.budget)
}

func (d *dispatcher) endOutage(t time.Time) {
	st := d.st
	dur := d.out.finish(t)
	st.mu.Lock()
	st.s.OutageTime += dur
	st.outageStart, st.outageEvery = time.Time{}, 0
	st.mu.Unlock()
	st.r.logger().Info("Kentik reachable again: the job resumes at full pace", "outage", dur.Round(time.Millisecond))
}

// stopOutage stops the job: the outage outlasted the budget. The batches waiting to be
// sent again fail (to the failed file); those the producer still sends go there too,
// unsent (see unsent).
func (d *dispatcher) stopOutage(now time.Time) {
	st, o := d.st, d.out
	st.r.logger().Warn("Kentik unreachable for longer than the outage budget: the job stops",
		"outage", now.Sub(o.start).Round(time.Millisecond), "outage_budget", o.budget)
	d.endOutage(now)
	o.stopped = true
	st.mu.Lock()
	st.outageStopped = true
	st.mu.Unlock()
	for _, p := range d.queue {
		st.mu.Lock()
		st.s.Sent++ // its last call failed
		err := st.fail(p.b)
		st.mu.Unlock()
		if err != nil {
			d.cancel(err)
			break
		}
	}
	d.queue = nil
	d.st.report()
}

// unsent takes a batch the producer sent after the job halted: after an outage stop its
// rows go to the failed file (the job's remaining rows, as a plan to run again); after
// an interruption it is left alone (the journal resumes it).
func (d *dispatcher) unsent(b Batch) {
	if !d.out.stopped || d.ctx.Err() != nil {
		return
	}
	if err := d.st.fw.write(b.Classification, b.IDs); err != nil {
		d.cancel(fmt.Errorf("classify: writing the failed file: %w", err))
	}
}

// booked books the final outcome of a batch's call: acknowledged (journaled), refused
// credentials (the job stops), or failed for good (the failed file).
func (st *runState) booked(cancel context.CancelCauseFunc, res result) {
	r, b, err := st.r, res.p.b, res.err
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastEnd = res.end
	st.s.Sent++
	switch {
	case err == nil:
		// The server applied the batch whatever happens to the journal: the summary
		// says so. Unjournaled, it is sent again by a rerun, which is harmless.
		st.s.Classified += len(b.IDs)
		if st.j != nil {
			if jerr := st.j.record(b); jerr != nil {
				cancel(jerr)
				return
			}
		}
	case fatal(err):
		// Sent stays counted: the server received the request (and refused it).
		cancel(fmt.Errorf("%w: %w", ErrStopped, err))
		return
	default:
		r.logger().Warn("batch failed", "group", b.Classification.String(), "batch", b.Seq, "interfaces", len(b.IDs), "err", err)
		if ferr := st.fail(b); ferr != nil {
			cancel(ferr)
			return
		}
	}
	if r.Progress != nil {
		r.Progress(st.progressLocked())
	}
}

// fail books a batch that failed for good and writes its rows to the failed file. The
// caller holds st.mu.
func (st *runState) fail(b Batch) error {
	st.s.Failed += len(b.IDs)
	st.s.FailedBatches++
	st.failedKeys[batchKey{b.Group, b.Seq}] = true
	if err := st.fw.write(b.Classification, b.IDs); err != nil {
		return fmt.Errorf("classify: writing the failed file: %w", err)
	}
	return nil
}

// report calls Progress, when set, between outcomes.
func (st *runState) report() {
	if st.r.Progress == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.r.Progress(st.progressLocked())
}

func (st *runState) progress() Progress {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.progressLocked()
}

// rateLocked is the requests completed per second, from the start of the first call to
// the end of the last one; 0 before two moments are known. The caller holds st.mu, or
// every call has ended.
func (st *runState) rateLocked() float64 {
	if st.firstStart.IsZero() || st.s.Sent == 0 {
		return 0
	}
	if span := st.lastEnd.Sub(st.firstStart); span > 0 {
		return float64(st.s.Sent) / span.Seconds()
	}
	return 0
}

func (st *runState) progressLocked() Progress {
	s := st.s
	pr := Progress{
		Interfaces:    s.Interfaces,
		Done:          s.AlreadyDone + s.Classified,
		Failed:        s.Failed,
		Requests:      s.Sent,
		TotalRequests: st.total,
		Elapsed:       time.Since(st.start),
	}
	pr.FailedRequests = s.FailedBatches
	if st.r.Retries != nil {
		pr.Retries = st.r.Retries() - st.retries0
	}
	pr.Outages, pr.OutageTime, pr.Resent = s.Outages, s.OutageTime, s.Resent
	if !st.outageStart.IsZero() {
		pr.Unreachable = max(time.Since(st.outageStart), 0)
		pr.OutageTime += pr.Unreachable
		pr.RetryEvery = st.outageEvery
	}
	pr.Rate = st.rateLocked()
	left := st.total - s.Sent
	if left > 0 {
		per := st.r.Policy.MinInterval()
		if pr.Rate > 0 {
			per = max(per, time.Duration(float64(time.Second)/pr.Rate))
		}
		pr.ETA = time.Duration(left) * per
	}
	return pr
}
