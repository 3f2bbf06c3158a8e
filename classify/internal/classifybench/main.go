// Command classifybench measures the bulk classify job's planning on a large plan: it
// writes a plan of -rows rows (or reads -plan), runs pass 1 (classify.Load) and pass 2
// (Plan.Batches, sending nothing), and prints the time of each and the process's peak
// resident memory. Run it as
//
//	go run ./classify/internal/classifybench -rows 1000000
//
// or build it and run it under /usr/bin/time -v for an outside view of the same number.
// -groups N gives the generated plan N distinct providers (a group each).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/gokentik/kentik/classify"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows of the generated plan")
	plan := flag.String("plan", "", "an existing plan to load instead of generating one")
	batch := flag.Int("batch-size", classify.DefaultBatchSize, "ids per request")
	groups := flag.Int("groups", 0, "distinct providers in the generated plan (0: 8 classifications)")
	flag.Parse()
	if err := run(*rows, *groups, *plan, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "classifybench:", err)
		os.Exit(1)
	}
}

func run(rows, groups int, plan string, batch int) error {
	if plan == "" {
		dir, err := os.MkdirTemp("", "classifybench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		plan = filepath.Join(dir, "plan.csv")
		t0 := time.Now()
		if err := generate(plan, rows, groups); err != nil {
			return err
		}
		fmt.Printf("generated %d rows in %s\n", rows, time.Since(t0).Round(time.Millisecond))
	}
	if st, err := os.Stat(plan); err == nil {
		fmt.Printf("plan %s: %.1f MB\n", plan, float64(st.Size())/1e6)
	}
	ctx := context.Background()
	t0 := time.Now()
	p, err := classify.Load(ctx, plan, classify.Options{BatchSize: batch})
	if err != nil {
		return err
	}
	defer p.Close()
	pass1 := time.Since(t0)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	heapAfterLoad := m.HeapInuse
	t1 := time.Now()
	ids, batches := 0, 0
	if err := p.Batches(ctx, func(b classify.Batch) error { ids += len(b.IDs); batches++; return nil }); err != nil {
		return err
	}
	pass2 := time.Since(t1)
	runtime.ReadMemStats(&m)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("pass 1 (validate, dedupe, group): %s for %d rows, %d interfaces, %d groups\n", pass1.Round(time.Millisecond), p.Rows, p.Interfaces, len(p.Groups))
	fmt.Printf("pass 2 (batches):                 %s for %d ids in %d batches (%d planned)\n", pass2.Round(time.Millisecond), ids, batches, p.Requests())
	fmt.Printf("heap in use after pass 1: %.1f MiB; total allocated: %.1f MiB; peak RSS: %.1f MiB\n",
		float64(heapAfterLoad)/(1<<20), float64(m.TotalAlloc)/(1<<20), float64(ru.Maxrss)/1024)
	return nil
}

func generate(path string, n, providers int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	groups := []string{"transit,external,Acme", "transit,external,Zayo", "ix,external,DE-CIX", "ix,external,AMS-IX",
		"paid_pni,external,Beta", "free_pni,external,Gamma", "backbone,internal,", "customer,external,"}
	fmt.Fprintln(w, "interface_id,connectivity_type,network_boundary,provider")
	for i := range n {
		if providers > 0 {
			fmt.Fprintf(w, "%d,transit,external,Provider-%d\n", 1000001+i, i%providers)
			continue
		}
		fmt.Fprintf(w, "%d,%s\n", 1000001+i, groups[(i*31)%len(groups)])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
