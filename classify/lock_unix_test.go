//go:build unix

package classify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const (
	holderPlanEnv    = "KENTIK_CLASSIFY_TEST_HOLDER_PLAN"    // the plan, in the child
	holderJournalEnv = "KENTIK_CLASSIFY_TEST_HOLDER_JOURNAL" // the journal, in the child
)

// TestHelperJournalHolder is the child of TestJournalInUseAcrossProcesses: it opens the
// journal as a running job does, says so on stdout, and holds it until stdin closes.
func TestHelperJournalHolder(t *testing.T) {
	plan, jpath := os.Getenv(holderPlanEnv), os.Getenv(holderJournalEnv)
	if plan == "" || jpath == "" {
		t.Skip("the child process of TestJournalInUseAcrossProcesses")
	}
	p, err := Load(context.Background(), plan, Options{BatchSize: 100})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	j, err := openJournal(jpath, p, false)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	j.close()
	os.Exit(0)
}

// A job in another process holds the journal: this one is refused before it sends
// anything, and runs once the other process is gone.
func TestJournalInUseAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	path := genPlan(t, dir, 300)
	p := mustLoad(t, path, Options{BatchSize: 100})
	jpath := filepath.Join(dir, "sub", "journal")
	if err := os.Mkdir(filepath.Dir(jpath), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperJournalHolder$", "-test.count=1")
	cmd.Env = append(os.Environ(), holderPlanEnv+"="+path, holderJournalEnv+"="+jpath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	f := newFakeService()
	client := startFake(t, f)
	_, err = (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p)
	if !errors.Is(err, ErrJournalInUse) {
		t.Errorf("journal held by another process: %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls sent next to a running job", calls)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if _, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p); err != nil {
		t.Fatalf("after the other process ended: %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != p.Requests() {
		t.Errorf("%d calls, want %d", calls, p.Requests())
	}
}
