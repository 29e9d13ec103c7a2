package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

// The configured names map to slog levels; trace is debug.
func TestParseLevel(t *testing.T) {
	for name, want := range map[string]slog.Level{
		"error": slog.LevelError, "warn": slog.LevelWarn, "info": slog.LevelInfo, "debug": slog.LevelDebug, "trace": slog.LevelDebug,
	} {
		if got := ParseLevel(name); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", name, got, want)
		}
	}
}

// A NOTICE line gets through at every configured level, and every output
// names it NOTICE (the journal: priority 5).
func TestNoticeSurvivesEveryLevel(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		level := new(slog.LevelVar)
		level.Set(slog.LevelError)
		l := New(&b, format, level)
		l.Warn("hidden")
		l.Log(t.Context(), LevelNotice, "reloaded")
		out := b.String()
		if strings.Count(out, "\n") != 1 || strings.Contains(out, "hidden") ||
			!strings.Contains(out, map[string]string{"text": "level=NOTICE", "json": `"level":"NOTICE"`}[format]) {
			t.Errorf("%s at level error: %q", format, out)
		}
	}
	h := newJournalHandler(new(slog.LevelVar))
	var got journal.Priority = -1
	h.send = func(_ string, p journal.Priority, _ map[string]string) error { got = p; return nil }
	slog.New(h).Log(t.Context(), LevelNotice, "reloaded")
	if got != journal.PriNotice {
		t.Errorf("journal priority %d, want %d (notice)", got, journal.PriNotice)
	}
}
