package redislimit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

// Scope names the limits a Limiter enforces: the calls of one class (a row
// of Kentik's table, such as "admin" or "query", or a V5 variant) of one
// account. Every Limiter with the same Scope and an equivalent policy shares
// one set of keys in Redis.
type Scope struct {
	// Account identifies the customer, e.g. its login email. It is stored
	// only as a hash: the first 16 hex digits of the SHA-256 of the account
	// trimmed and lower-cased. Include the region ("eu|ops@example.com")
	// when one email may name accounts in both of Kentik's regions.
	Account string
	// Class is the API class, 1 to 64 ASCII letters, digits, '.', '_' or '-'
	// (e.g. "admin", "query", "v5-admin"). It is stored in clear.
	Class string
}

// validate reports what is wrong with s, naming the fields as a caller wrote them.
func (s Scope) validate() error {
	if strings.TrimSpace(s.Account) == "" {
		return fmt.Errorf("redislimit: Scope.Account is empty: give the account's identity (e.g. its email)")
	}
	if s.Class == "" || len(s.Class) > 64 {
		return fmt.Errorf("redislimit: Scope.Class %q must be 1 to 64 characters", s.Class)
	}
	for _, r := range s.Class {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("redislimit: Scope.Class %q: only ASCII letters, digits, '.', '_' and '-' are allowed", s.Class)
		}
	}
	return nil
}

// accountHash is the account as stored in Redis.
func accountHash(account string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(account))))
	return hex.EncodeToString(sum[:8])
}

// policyHash identifies a policy's ratelimit.Policy.ClientPart in keys: 8 hex
// digits of the SHA-256 of its String form.
func policyHash(c ratelimit.Policy) string {
	sum := sha256.Sum256([]byte(c.String()))
	return hex.EncodeToString(sum[:4])
}

// keySet holds every key and the channel of one Scope and policy. All keys
// share the hash tag {...}, so that a Redis Cluster keeps them in one slot,
// as its scripts require.
type keySet struct {
	base string   // prefix:{account:class:policy}
	all  []string // the KEYS of every script, in the order of the k* constants, then one per window
	wake string   // the pub/sub channel
}

// Positions in keySet.all (Lua indexes are these plus one).
const (
	kEpoch  = iota // hash: id (the epoch), until (no admission before, µs)
	kLease         // zset: lease id -> expiry (µs)
	kQueue         // zset: ticket -> arrival sequence number
	kExpiry        // zset: ticket -> expiry (µs)
	kSeq           // counter of arrivals
	kPush          // push-back: no admission before (µs)
	kWindow        // first window: zset admission id -> admission time (µs)
)

func newKeySet(prefix string, s Scope, c ratelimit.Policy) keySet {
	base := prefix + ":{" + accountHash(s.Account) + ":" + s.Class + ":" + policyHash(c) + "}"
	ks := keySet{base: base, wake: base + ":wake"}
	ks.all = []string{base + ":epoch", base + ":lease", base + ":queue", base + ":queue-expiry", base + ":seq", base + ":pushback"}
	for _, w := range c.Windows {
		ks.all = append(ks.all, base+":window:"+strconv.Itoa(w.Limit)+"/"+strconv.FormatInt(int64(w.Period/time.Microsecond), 10)+"us")
	}
	return ks
}

// span is a window's length as the limiter counts it: the period plus
// ratelimit.New's default margin (ratelimit.ClientMargin), which absorbs the
// transit jitter between an admission and Kentik's receipt of the call.
func span(period time.Duration) time.Duration {
	return period + ratelimit.ClientMargin(period)
}
