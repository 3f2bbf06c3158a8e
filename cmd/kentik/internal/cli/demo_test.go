package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	code, stdout, stderr := runKentik(t, nil, nil, "demo", "--interfaces", "600", "--batch-size", "20", "--speedup", "100")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"at 100x compressed time", "concurrency=1,60/600ms", "30 requests", "600 confirmed, 0 mismatched",
		"ManualClassify calls   30 (plan: 30)", "rejections             0", "of 60 allowed (60/600ms)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, stderr = runKentik(t, nil, nil, "-o", "json", "demo", "--interfaces", "100", "--batch-size", "50", "--speedup", "100",
		"--metrics-listen", "127.0.0.1:0")
	if !strings.Contains(stderr, "metrics (the client, the job and the fake) on http://127.0.0.1:") {
		t.Errorf("no metrics address on stderr:\n%s", stderr)
	}
	var doc struct {
		Summary struct {
			Classified int `json:"classified"`
		} `json:"summary"`
		Fake struct {
			Calls    int            `json:"manual_classify_calls"`
			Rejected map[string]int `json:"rejected"`
			Exceeded bool           `json:"limit_exceeded"`
		} `json:"fake"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 || doc.Summary.Classified != 100 || doc.Fake.Calls != 5 || len(doc.Fake.Rejected) != 0 || doc.Fake.Exceeded {
		t.Errorf("json: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if code, _, _ := runKentik(t, nil, nil, "demo", "--speedup", "0"); code != ExitUsage {
		t.Errorf("--speedup 0: exit %d", code)
	}
}
