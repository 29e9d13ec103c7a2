package logging

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkConnectionLine logs a connection's closing line, as the proxy
// does once per connection, in JSON to a discarding writer: what the
// line costs before it reaches the file descriptor.
func BenchmarkConnectionLine(b *testing.B) {
	var level slog.LevelVar
	log := New(io.Discard, "json", &level)
	b.ReportAllocs()
	for b.Loop() {
		log.LogAttrs(context.Background(), slog.LevelInfo, "connection closed",
			slog.String("client", "127.0.0.1:54321"),
			slog.String("listener", "127.0.0.1:8443"),
			slog.String("identity", ""),
			slog.String("tls_version", "TLS 1.3"),
			slog.String("group", "X25519MLKEM768"),
			slog.Bool("pq", true),
			slog.Bool("resumed", false),
			slog.String("cert_alg", "ML-DSA-65"),
			slog.Int64("bytes_in", 64),
			slog.Int64("bytes_out", 64),
			slog.Duration("duration", 1500*time.Microsecond),
			slog.String("close_reason", "client_closed"),
		)
	}
}
