package classify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "plan.csv")
	os.WriteFile(path, []byte(`interface_id,connectivity_type,network_boundary,provider
101,transit,external,Acme
102,TRANSIT,EXTERNAL,Acme
103,CONNECTIVITY_TYPE_IX,,DE-CIX
101,transit,external,Acme
104,paid-pni,external,Zayo
`), 0o644)

	p, err := classify.Load(context.Background(), path, classify.Options{BatchSize: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	for _, g := range p.Groups {
		fmt.Printf("%s: %d interfaces, %d requests\n", g.Classification, g.Interfaces, g.Batches)
	}
	fmt.Printf("%d interfaces (%d duplicate), %d requests\n", p.Interfaces, p.Duplicates, p.Requests())
	p.Batches(context.Background(), func(b classify.Batch) error {
		fmt.Println(b.Group, b.Seq, b.IDs)
		return nil
	})
	// Output:
	// transit/external/Acme: 2 interfaces, 1 requests
	// ix/unspecified/DE-CIX: 1 interfaces, 1 requests
	// paid_pni/external/Zayo: 1 interfaces, 1 requests
	// 4 interfaces (1 duplicate), 3 requests
	// 0 0 [101 102]
	// 1 0 [103]
	// 2 0 [104]
}

func ExampleLoad_badRows() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "plan.csv")
	os.WriteFile(path, []byte("interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,transit,outside,\n,ix,,\n"), 0o644)

	_, err := classify.Load(context.Background(), path, classify.Options{})
	fmt.Println(strings.ReplaceAll(err.Error(), path, "plan.csv"))
	// Output:
	// plan.csv: 2 bad rows, nothing sent (fix them, or set Options.SkipInvalid to send the good rows):
	//   plan.csv:3: unknown network_boundary "outside"
	//   plan.csv:4: interface_id is empty
	//   network_boundary is one of: auto, external, internal, none, unspecified (or empty)
}

func ExampleEstimate() {
	fmt.Println(classify.Estimate(ratelimit.Admin, 1000, 0).Round(time.Second))
	fmt.Println(classify.Estimate(ratelimit.Admin.Scale(30), 200, 0).Round(10 * time.Millisecond))
	// Output:
	// 24m30s
	// 9s
}

func ExampleRunner_Run() {
	ctx := context.Background()
	policy := ratelimit.Admin.Scale(100)
	srv, _ := kentiktest.NewServer(kentiktest.WithInterfaces(10, 1), kentiktest.WithPolicy(policy))
	defer srv.Close()
	c, _ := client.New(ctx, client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
		client.WithCredentials(srv.Credentials()), client.WithRateLimit(policy))
	defer c.Close()

	var plan strings.Builder
	plan.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for _, id := range srv.InterfaceIDs() {
		fmt.Fprintf(&plan, "%s,transit,external,Acme\n", id)
	}
	p, _ := classify.LoadReader(ctx, "-", strings.NewReader(plan.String()), classify.Options{BatchSize: 4})
	defer p.Close()

	r := &classify.Runner{Client: c.Interfaces(), Policy: policy, Verify: true}
	s, err := r.Run(ctx, p)
	fmt.Println(err)
	fmt.Printf("classified %d with %d requests; verified %d with %d requests\n", s.Classified, s.Sent, s.Verified, s.VerifyRequests)
	// Output:
	// <nil>
	// classified 10 with 3 requests; verified 10 with 1 requests
}
