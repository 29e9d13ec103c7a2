// Package logging makes the process's logger: native journald entries with
// structured QSP_* fields when stderr is the journal (systemd.exec(5),
// JOURNAL_STREAM), text or JSON on stderr otherwise. The level can change
// on reload. Whatever the output, no value a client chose can put a
// newline or another control character in a line or a field ([Escape]).
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
		return slog.New(newJournalHandler(level))
	}
	if format == "json" {
		return slog.New(escaping{slog.NewJSONHandler(stderr, opts)})
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// ParseLevel turns a configured level name into a slog level.
func ParseLevel(name string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(name))
	return l
}
