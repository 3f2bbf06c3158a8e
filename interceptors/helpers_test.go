package interceptors

import (
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/gokentik/kentik"
)

var testCreds = kentik.Credentials{Email: "ops@example.com", Token: "s3cr3t-t0k3n"}

// checkAuthMD fails unless md has each credential key exactly once, with the
// right value, and no upper-case key.
func checkAuthMD(t *testing.T, md metadata.MD) {
	t.Helper()
	if got := md[kentik.MetadataEmail]; len(got) != 1 || got[0] != testCreds.Email {
		t.Errorf("%s = %q, want [%q]", kentik.MetadataEmail, got, testCreds.Email)
	}
	if got := md[kentik.MetadataToken]; len(got) != 1 || got[0] != testCreds.Token {
		t.Errorf("%s has %d values (or a wrong one), want exactly the token once", kentik.MetadataToken, len(got))
	}
	for k := range md {
		for _, r := range k {
			if r >= 'A' && r <= 'Z' {
				t.Errorf("metadata key %q is not lower-case", k)
			}
		}
	}
}
