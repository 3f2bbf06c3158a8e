package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/ratelimit/redislimit"
)

// Every process of the account that runs this shares one concurrent slot and
// the admin row's windows through the Redis at KENTIK_LIMITER (e.g.
// redis://127.0.0.1:6379/0).
func Example() {
	ctx := context.Background()
	url := os.Getenv("KENTIK_LIMITER")
	if url == "" {
		fmt.Println("KENTIK_LIMITER is not set: no Redis to share the limits through")
		return
	}
	l, err := redislimit.NewFromURL(ctx, url,
		redislimit.Scope{Account: os.Getenv("KENTIK_EMAIL"), Class: "admin"},
		ratelimit.Admin,
		redislimit.WithLeaseTTL(10*time.Second), // the default: a killed holder frees its slot within 10 s
	)
	if errors.Is(err, redislimit.ErrUnavailable) {
		log.Fatal(err) // names the address and what to check; or use redislimit.WithFallback()
	}
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	release, err := l.Acquire(callCtx)
	if errors.Is(err, ratelimit.ErrLimited) {
		log.Fatal(err) // no slot before the deadline
	}
	if err != nil {
		log.Fatal(err)
	}
	// ... one call to Kentik ...
	release()
}
