// Package logging makes the process's logger: native journald entries with
// structured QSP_* fields when stderr is the journal (systemd.exec(5),
// JOURNAL_STREAM), text or JSON on stderr otherwise. The level can change
// on reload.
package logging

import (
	"io"
	"log/slog"
	"os"
)

// New returns a logger at level on stderr, or to the journal when stderr
// is connected to it; format is "text" or "json" for stderr.
func New(stderr io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := stderr.(*os.File); ok && f == os.Stderr && stderrIsJournal() {
		return slog.New(&journalHandler{level: level})
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// ParseLevel turns a configured level name into a slog level.
func ParseLevel(name string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(name))
	return l
}
