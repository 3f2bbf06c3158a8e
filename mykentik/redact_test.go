package mykentik

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A successful response that is JSON but not the expected JSON, with the token echoed in
// a field the decoder quotes back, must not carry the token into the error.
func TestDecodeErrorRedactsToken(t *testing.T) {
	for _, body := range []string{
		`{"id":7,"name":"x","created_date":"` + testToken + `"}`,
		`{"id":"` + testToken + `","name":"x"}`,
	} {
		f := newFake(t, reply{body: body})
		_, err := newClient(t, f).GetTenant(context.Background(), 7)
		if err == nil {
			t.Fatalf("%s: no error", body)
		}
		if !errors.Is(err, ErrNotJSON) {
			t.Errorf("%s: %v does not wrap ErrNotJSON", body, err)
		}
		for e := error(err); e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), testToken) {
				t.Errorf("%s: the error shows the token: %v", body, e)
				break
			}
		}
	}
}
