package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik/classify"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// classifyPolicy is the admin policy at 100x compressed time: quick tests that still
// pace.
var classifyPolicy = ratelimit.Admin.Scale(100)

// runKentik runs the kentik command with env as the whole environment.
func runKentik(t *testing.T, env map[string]string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdin, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// startClassifyFake starts kentiktest with n interfaces and returns it with the
// environment that points the command at it.
func startClassifyFake(t *testing.T, n int) (*kentiktest.Server, map[string]string) {
	t.Helper()
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(n, 3), kentiktest.WithPolicy(classifyPolicy))
	c := srv.Credentials()
	return srv, map[string]string{
		"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(),
		"KENTIK_EMAIL":         c.Email,
		"KENTIK_API_TOKEN":     c.Token,
		"KENTIK_RATE_LIMIT":    classifyPolicy.String(),
	}
}

// writeClassifyPlan writes a CSV plan for ids, alternating two groups.
func writeClassifyPlan(t *testing.T, ids []string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i, id := range ids {
		if i%2 == 0 {
			fmt.Fprintf(&b, "%s,transit,external,Acme\n", id)
		} else {
			fmt.Fprintf(&b, "%s,IX,,DE-CIX\n", id)
		}
	}
	path := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClassifyCommand(t *testing.T) {
	srv, env := startClassifyFake(t, 400)
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	journal := filepath.Join(t.TempDir(), "journal")
	code, stdout, stderr := runKentik(t, env, nil, "--plaintext", "-o", "json", "interfaces", "classify",
		"--file", plan, "--batch-size", "20", "--journal", journal, "--verify")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var s struct {
		Classified     int     `json:"classified"`
		Sent           int     `json:"requests_sent"`
		Requests       int     `json:"requests_planned"`
		Verified       int     `json:"verified"`
		VerifyRequests int     `json:"verify_requests"`
		Rate           float64 `json:"request_rate"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if s.Classified != 400 || s.Sent != 20 || s.Requests != 20 || s.Verified != 400 || s.VerifyRequests != 2 {
		t.Errorf("summary %+v", s)
	}
	in, _ := srv.Interface(srv.InterfaceIDs()[1])
	if in.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX || in.GetProvider() != "DE-CIX" {
		t.Errorf("interface: %v", in)
	}
	st := srv.Stats()
	if st.GRPC.Calls["ManualClassify"] != 20 || len(st.GRPC.Rejected) != 0 || st.GRPC.Limits.Exceeded() {
		t.Errorf("fake: %+v", st.GRPC)
	}
	if !strings.Contains(stderr, "400/400 interfaces (100%)") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}

	// Again with the same journal: nothing left to send.
	code, stdout, stderr = runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "20", "--journal", journal)
	if code != 0 || srv.Stats().GRPC.Calls["ManualClassify"] != 20 || !strings.Contains(stdout, "400 already done by the journal") {
		t.Errorf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Another batch size with that journal is refused.
	code, _, stderr = runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10", "--journal", journal)
	if code != 1 || !strings.Contains(stderr, "--batch-size 20") {
		t.Errorf("other batch size: exit %d\n%s", code, stderr)
	}
}

func TestClassifyDryRunNeedsNoServer(t *testing.T) {
	plan := writeClassifyPlan(t, []string{"1", "2", "3", "4", "5"})
	env := map[string]string{"KENTIK_GRPC_ENDPOINT": "127.0.0.1:1"} // nothing listens there
	code, stdout, stderr := runKentik(t, env, nil, "interfaces", "classify", "--file", plan, "--batch-size", "2", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"transit/external/Acme", "ix/unspecified/DE-CIX", "total", "3 requests planned", "nothing (dry run)", "policy  admin"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runKentik(t, env, nil, "-o", "json", "interfaces", "classify", "--file", plan, "--batch-size", "2", "--dry-run")
	var doc struct {
		DryRun bool `json:"dry_run"`
		Groups []struct {
			ConnectivityType string `json:"connectivity_type"`
			Requests         int    `json:"requests"`
		} `json:"plan_groups"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 || !doc.DryRun || len(doc.Groups) != 2 || doc.Groups[0].Requests != 2 {
		t.Errorf("json dry run: exit %d, %v\n%s", code, err, stdout)
	}
}

func TestClassifyBadPlanSendsNothing(t *testing.T) {
	srv, env := startClassifyFake(t, 10)
	ids := srv.InterfaceIDs()
	plan := "interface_id,connectivity_type,network_boundary,provider\n" + ids[0] + ",transit,,\n" + ids[1] + ",trnsit,,\n,ix,,\n"
	code, _, stderr := runKentik(t, env, strings.NewReader(plan), "--plaintext", "interfaces", "classify", "--file", "-")
	if code != 1 || !strings.Contains(stderr, "stdin:3: unknown connectivity_type \"trnsit\"") || !strings.Contains(stderr, "stdin:4: interface_id is empty") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if n := srv.Stats().GRPC.Calls["ManualClassify"]; n != 0 {
		t.Errorf("%d calls sent for a bad plan", n)
	}
	// With --skip-invalid the good row goes, the bad ones land in the reject file.
	dir := t.TempDir()
	rej := filepath.Join(dir, "rejected.csv")
	code, _, stderr = runKentik(t, env, strings.NewReader(plan), "--plaintext", "interfaces", "classify", "--file", "-", "--skip-invalid", "--reject-file", rej)
	if code != 0 || srv.Stats().GRPC.Calls["ManualClassify"] != 1 || !strings.Contains(stderr, "2 bad rows skipped") {
		t.Errorf("skip-invalid: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(rej); strings.Count(string(b), "\n") != 3 {
		t.Errorf("reject file:\n%s", b)
	}
}

func TestClassifyFailedBatches(t *testing.T) {
	srv, env := startClassifyFake(t, 100)
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	if err := srv.FailNext("ManualClassify", 1, codes.InvalidArgument); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10")
	failed := plan + ".failed"
	if code != 1 || !strings.Contains(stderr, "10 interfaces in 1 batch") || !strings.Contains(stdout, "failed file") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// The failed file is a plan: running it finishes the job.
	code, _, stderr = runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", failed, "--verify")
	if code != 0 {
		t.Errorf("rerun of the failed file: exit %d\n%s", code, stderr)
	}
	// Running the whole plan again succeeds, and removes the failed file, which would
	// only mislead now.
	code, stdout, stderr = runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10")
	if _, err := os.Stat(failed); code != 0 || err == nil || !strings.Contains(stdout, failed+": left by an earlier run") {
		t.Errorf("rerun of the plan: exit %d, failed file: %v\n%s\n%s", code, err, stdout, stderr)
	}
}

func TestClassifyRefusedCredentials(t *testing.T) {
	srv, env := startClassifyFake(t, 100)
	env["KENTIK_API_TOKEN"] = "wrong"
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	code, _, stderr := runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10")
	if code != 1 || !strings.Contains(stderr, "stopped") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if n := srv.Stats().GRPC.Calls["ManualClassify"]; n > 1 {
		t.Errorf("%d calls after the credentials were refused", n)
	}
}

func TestClassifyUsage(t *testing.T) {
	plan := writeClassifyPlan(t, []string{"1"})
	for _, args := range [][]string{
		{"interfaces", "classify"},
		{"interfaces", "classify", "--file", plan, "--format", "xml"},
		{"interfaces", "classify", "--file", plan, "--batch-size", "0"},
		{"interfaces", "classify", "--file", plan, "--batch-size", "10001"},
		{"interfaces", "classify", "--file", plan, "--batch-size", "1000000", "--dry-run"},
		{"interfaces", "classify", "--file", plan, "--batch-size", "9223372036854775807", "--dry-run"},
		{"demo", "--batch-size", "10001"},
		{"interfaces", "classify", "--file", plan, "--spool-limit", "0", "--dry-run"},
		{"interfaces", "classify", "--file", plan, "--spool-limit", "1.5GB", "--dry-run"},
		{"interfaces", "classify", "--file", plan, "--reject-file", "x"},
	} {
		if code, _, stderr := runKentik(t, nil, nil, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, ExitUsage, stderr)
		}
	}
}

// TestClassifyDryRunRefusedJournalJSON: a dry run whose journal is refused still prints
// its one JSON document with -o json, carrying the error, as a real run does.
func TestClassifyDryRunRefusedJournalJSON(t *testing.T) {
	plan := writeClassifyPlan(t, []string{"1", "2", "3"})
	journal := filepath.Join(t.TempDir(), "other.journal")
	if err := os.WriteFile(journal, []byte("not a journal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		args := []string{"--email", "a@b.example", "--token", "t", "--plaintext", "--grpc-endpoint", "127.0.0.1:1",
			"-o", "json", "interfaces", "classify", "--file", plan, "--journal", journal}
		if dry {
			args = append(args, "--dry-run")
		}
		code, stdout, stderr := runKentik(t, nil, nil, args...)
		var doc struct {
			DryRun bool   `json:"dry_run"`
			Error  string `json:"error"`
		}
		dec := json.NewDecoder(strings.NewReader(stdout))
		err := dec.Decode(&doc)
		if code != ExitFailure || err != nil || dec.More() || doc.DryRun != dry || !strings.Contains(doc.Error, "journal") {
			t.Errorf("dry run %v: exit %d, %v, %+v\nstdout:\n%s\nstderr:\n%s", dry, code, err, doc, stdout, stderr)
		}
	}
}

// TestClassifyPlanFileIsUsage: a --file that is missing or a directory is a bad flag
// (exit 2), as it is for interfaces create.
func TestClassifyPlanFileIsUsage(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KENTIK_EMAIL": "a@b.example", "KENTIK_API_TOKEN": "t"}
	for _, file := range []string{filepath.Join(dir, "missing.csv"), dir, ""} {
		for _, dry := range []string{"--dry-run", "--verify"} {
			code, stdout, stderr := runKentik(t, env, nil, "-o", "json", "interfaces", "classify", "--file", file, dry)
			if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "--file") {
				t.Errorf("%q %s: exit %d, want %d\n%s%s", file, dry, code, ExitUsage, stdout, stderr)
			}
		}
	}
}

// A job short enough to fit in one window may beat the hard limit's long-run rate: the
// summary then measures it against what the policy allows for that many requests, not
// as a percentage of the hard limit above 100 that would read as a violation.
func TestSummaryRateShortJob(t *testing.T) {
	var b strings.Builder
	printSummary(&b, &classify.Summary{Sent: 5, Rate: 40, PolicyRate: 1, RateRatio: 40, BestRate: 50, BestRatio: 0.8})
	if out := b.String(); !strings.Contains(out, "80% of the most the policy allows for 5 requests") || strings.Contains(out, "4000%") {
		t.Errorf("short job:\n%s", out)
	}
	b.Reset()
	printSummary(&b, &classify.Summary{Sent: 200, Rate: 21.5, PolicyRate: 30, RateRatio: 0.72, BestRate: 22.2, BestRatio: 0.97})
	if out := b.String(); !strings.Contains(out, "72% of the hard limit (30.00 req/s), 97% of the most") {
		t.Errorf("long job:\n%s", out)
	}
}

// TestSummaryJournalRejected: acknowledgements the journal could not vouch for are named
// in the summary, for a run and a dry run.
func TestSummaryJournalRejected(t *testing.T) {
	for _, dry := range []bool{false, true} {
		var b strings.Builder
		printSummary(&b, &classify.Summary{DryRun: dry, JournalRejected: 2})
		if out := b.String(); !strings.Contains(out, "2 acknowledgements") || !strings.Contains(out, "sent again") {
			t.Errorf("dry run %v:\n%s", dry, out)
		}
	}
}

// TestClassifyForgedJournal: a journal acknowledgement edited to name the batch that
// failed does not make the rerun skip it: the batch is sent, and the summary says why.
func TestClassifyForgedJournal(t *testing.T) {
	srv, env := startClassifyFake(t, 100)
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	journal := filepath.Join(t.TempDir(), "journal")
	if err := srv.FailNext("ManualClassify", 1, codes.InvalidArgument); err != nil {
		t.Fatal(err)
	}
	args := []string{"--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10", "--journal", journal}
	if code, _, stderr := runKentik(t, env, nil, args...); code != 1 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	acked := map[[2]int]int{} // (group, batch) -> line
	for i, l := range lines[1:] {
		var a struct{ G, B int }
		if json.Unmarshal([]byte(l), &a) == nil {
			acked[[2]int{a.G, a.B}] = i + 1
		}
	}
	if len(acked) != 9 {
		t.Fatalf("%d acknowledgements, want 9 of 10", len(acked))
	}
	// Re-aim an acknowledgement of the failed batch's group at it.
	var missing [2]int
	for g := range 2 {
		for b := range 5 {
			if _, ok := acked[[2]int{g, b}]; !ok {
				missing = [2]int{g, b}
			}
		}
	}
	victim := acked[[2]int{missing[0], (missing[1] + 1) % 5}]
	lines[victim] = strings.Replace(lines[victim], fmt.Sprintf(`"b":%d,`, (missing[1]+1)%5), fmt.Sprintf(`"b":%d,`, missing[1]), 1)
	if err := os.WriteFile(journal, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	before := srv.Stats().GRPC.Calls["ManualClassify"]
	code, stdout, stderr := runKentik(t, env, nil, args...)
	sent := srv.Stats().GRPC.Calls["ManualClassify"] - before
	// The forged line stood for a batch that was sent: that one is sent again too.
	if code != 0 || sent != 2 || !strings.Contains(stdout, "1 acknowledgement did not match") {
		t.Errorf("rerun: exit %d, %d calls (want 2: the failed batch and the one whose line was re-aimed)\n%s\n%s", code, sent, stdout, stderr)
	}
}

// TestClassifySpoolLimit: a plan from stdin larger than --spool-limit is refused, naming
// the flag and its value.
func TestClassifySpoolLimit(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n" + strings.Repeat("1,transit,,\n", 100)
	code, _, stderr := runKentik(t, nil, strings.NewReader(plan), "interfaces", "classify", "--file", "-", "--dry-run", "--spool-limit", "1KiB")
	if code != ExitFailure || !strings.Contains(stderr, "--spool-limit 1KiB") || !strings.Contains(stderr, "larger than") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runKentik(t, nil, strings.NewReader(plan), "interfaces", "classify", "--file", "-", "--dry-run", "--spool-limit", "2KB"); code != 0 {
		t.Errorf("within the limit: exit %d\n%s", code, stderr)
	}
}

// TestClassifyShortJobRate: a job of 4 requests under the admin policy fits in one of its
// windows, which allows them at once: its rate, however high, is no violation, and the
// summary must not call it a percentage of the hard limit (it said "63029% of the hard
// limit").
func TestClassifyShortJobRate(t *testing.T) {
	srv, env := startClassifyFake(t, 40)
	env["KENTIK_RATE_LIMIT"] = "admin"
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	code, stdout, stderr := runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "10")
	if code != 0 || !strings.Contains(stdout, "4 requests fit in one window of the policy") || strings.Contains(stdout, "of the hard limit") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = runKentik(t, env, nil, "--plaintext", "-o", "json", "interfaces", "classify", "--file", plan, "--batch-size", "10")
	var s struct {
		Fits  bool     `json:"fits_in_one_window"`
		Ratio *float64 `json:"rate_ratio"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != 0 || !s.Fits || s.Ratio != nil {
		t.Errorf("json: exit %d, %v, %+v\n%s", code, err, s, stdout)
	}
}

// TestClassifyVerifyMissing: --verify tells interfaces that do not exist from
// misclassified ones: they are counted apart and written to PLAN.missing, not to the
// failed file, where a retry could never succeed.
func TestClassifyVerifyMissing(t *testing.T) {
	srv, env := startClassifyFake(t, 100)
	plan := writeClassifyPlan(t, append(srv.InterfaceIDs(), "9999998", "9999999"))
	code, stdout, stderr := runKentik(t, env, nil, "--plaintext", "-o", "json", "interfaces", "classify", "--file", plan, "--batch-size", "20", "--verify")
	var s struct {
		Verified    int    `json:"verified"`
		Mismatched  int    `json:"mismatched"`
		Missing     int    `json:"missing"`
		MissingFile string `json:"missing_file"`
		FailedFile  string `json:"failed_file"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != 1 || s.Verified != 100 || s.Mismatched != 0 || s.Missing != 2 ||
		s.MissingFile != plan+".missing" || s.FailedFile != "" || !strings.Contains(stderr, "do not exist") {
		t.Fatalf("exit %d, %v, %+v\n%s\n%s", code, err, s, stdout, stderr)
	}
	if _, err := os.Stat(plan + ".failed"); !os.IsNotExist(err) {
		t.Errorf("a failed file was written: %v", err)
	}
	b, _ := os.ReadFile(plan + ".missing")
	if got := string(b); !strings.Contains(got, "9999998,transit,external,Acme\n") || !strings.Contains(got, "9999999,ix,unspecified,DE-CIX\n") || strings.Count(got, "\n") != 3 {
		t.Errorf("missing file:\n%s", got)
	}
}
