package client

import "github.com/gokentik/kentik"

const (
	testEmail = "ops@example.com"
	testToken = "s3cr3t-t0k3n"
)

var testCreds = kentik.Credentials{Email: testEmail, Token: testToken}
