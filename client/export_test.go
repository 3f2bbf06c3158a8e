package client

import (
	"log/slog"
	"testing"
)

// BenchRatio runs the interleaved ratio benchmark of bench_test.go on a chain built with
// extra options: the external test package measures the instrumentation packages
// (kentikprom, kentikotel), which import this one, with it.
func BenchRatio(b *testing.B, extra ...Option) {
	benchClients(b, slog.LevelError+4, extra...).ratio(b)
}
