package schemacheck_test

import (
	"testing"

	"github.com/gokentik/kentik/internal/schemacheck"
)

// FuzzParseReference: arbitrary input never panics the reader or the comparison, and a
// file compared with itself has no differences.
func FuzzParseReference(f *testing.F) {
	f.Add([]byte(`{"file":[{"name":"a.proto","messageType":[{"name":"M","field":[{"name":"f","number":1}]}]}]}`))
	f.Add([]byte(`{"file":[{"name":"a.proto","service":[{"name":"S","method":[{"name":"M","options":{"[google.api.http]":{"get":"/x"}}}]}]}]}`))
	f.Add([]byte(`{"file":[{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := schemacheck.ParseReference(data)
		if err != nil {
			return
		}
		for name, file := range files {
			if d := schemacheck.Diff(file, file); len(d) != 0 {
				t.Fatalf("%s differs from itself: %v", name, d)
			}
		}
	})
}
