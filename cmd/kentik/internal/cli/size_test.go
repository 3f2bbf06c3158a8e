package cli

import (
	"math"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "1GiB": 1 << 30, "1 gib": 1 << 30, "500MB": 500e6, "2kb": 2000, "3KiB": 3072,
		" 7 B ": 7, "8TiB": 8 << 40, "9223372036854775807": math.MaxInt64, "8388607TiB": 8388607 << 40,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1", "1.5GiB", "1 PiB", "1e9", "0x10", "9223372036854775808", "8388608TiB", "1GiBB", "１GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1GiB", "500 MB", "0", "9223372036854775807", "8388608TiB", "-1", "1.5k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		// What formatSize writes reads back the same.
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Fatalf("%q = %d, written %q, read back %d, %v", s, n, formatSize(n), back, err)
		}
		if strings.TrimSpace(s) == "" {
			t.Fatalf("blank %q accepted", s)
		}
	})
}
