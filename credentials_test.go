package kentik

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCredentialsNeverPrintToken(t *testing.T) {
	c := Credentials{Email: "ops@example.com", Token: "s3cr3t-t0k3n"}
	type wrapper struct {
		C   Credentials
		Ptr *Credentials
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, v := range []any{c, &c, wrapper{C: c, Ptr: &c}, []Credentials{c}, map[string]Credentials{"k": c}} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, c.Token) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", c.Token)) {
				t.Errorf("%s of %T printed the token: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprintf("%#v", c); got != "kentik.Credentials{Email:ops@example.com Token:<redacted>}" {
		t.Errorf("%%#v = %s", got)
	}
	if got := (Credentials{Email: "a"}).String(); got != "{Email:a Token:<empty>}" {
		t.Errorf("String = %s", got)
	}
}

func TestCredentialsValidate(t *testing.T) {
	for _, tc := range []struct {
		c       Credentials
		want    error
		mention string
	}{
		{Credentials{}, ErrMissingCredentials, "email and token are empty"},
		{Credentials{Token: "tok3n"}, ErrMissingCredentials, "email is empty"},
		{Credentials{Email: "e"}, ErrMissingCredentials, "token is empty"},
		{Credentials{Email: "e\n", Token: "tok3n"}, ErrInvalidCredentials, "email"},
		{Credentials{Email: "é@x", Token: "tok3n"}, ErrInvalidCredentials, "email"},
		{Credentials{Email: "e", Token: "tok3n\x00secret"}, ErrInvalidCredentials, "token"},
		{Credentials{Email: "e", Token: "tok3n\x7f"}, ErrInvalidCredentials, "token"},
		{Credentials{Email: "e@x", Token: "t"}, nil, ""},
	} {
		err := tc.c.Validate()
		if !errors.Is(err, tc.want) || tc.want != nil && !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%v: %v, want %v mentioning %q", tc.c, err, tc.want, tc.mention)
		}
		if err != nil && tc.c.Token != "" && strings.Contains(err.Error(), tc.c.Token) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	// Library errors speak of options and variables, never of a command's flags.
	if strings.Contains(ErrMissingCredentials.Error(), "--") {
		t.Errorf("ErrMissingCredentials names a flag: %v", ErrMissingCredentials)
	}
}
