package client

import (
	"context"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// The benchmarks compare the generated client on a plain connection ("bare")
// with the full Client ("chain": typed errors, logging at a level that drops
// every line, retry, a limiter with policy off, per-RPC credentials) against
// the same loopback server, which checks the credentials on both. Run:
//
//	go test -run '^$' -bench Unary -benchmem -count 5 ./client

func benchClients(b *testing.B, logLevel slog.Level) map[string]ifacev1.InterfaceServiceClient {
	f := newFakeServer(b)
	f.noRecord = true
	cc, err := grpc.NewClient(f.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(interceptors.InsecurePerRPCCredentials(testCreds)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	logger := slog.New(slog.NewTextHandler(nopWriter{}, &slog.HandlerOptions{Level: logLevel}))
	c, err := New(context.Background(), WithEndpoint(f.addr), WithPlaintext(), WithCredentials(testCreds),
		WithRateLimit(ratelimit.Off), WithLogger(logger))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return map[string]ifacev1.InterfaceServiceClient{"bare": ifacev1.NewInterfaceServiceClient(cc), "chain": c.Interfaces()}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkUnary(b *testing.B) {
	for _, lv := range []struct {
		suffix string
		level  slog.Level
	}{{"", slog.LevelError + 4}, {"-infolog", slog.LevelInfo}} {
		clients := benchClients(b, lv.level)
		for _, name := range []string{"bare", "chain"} {
			if name == "bare" && lv.suffix != "" {
				continue
			}
			ic := clients[name]
			b.Run(name+lv.suffix, func(b *testing.B) {
				ctx := context.Background()
				req := &ifacev1.GetInterfaceRequest{Id: "42"}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ic.GetInterface(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkUnaryParallel(b *testing.B) {
	clients := benchClients(b, slog.LevelError+4)
	for _, name := range []string{"bare", "chain"} {
		ic := clients[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				req := &ifacev1.GetInterfaceRequest{Id: "42"}
				for pb.Next() {
					if _, err := ic.GetInterface(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
