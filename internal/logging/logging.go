// Package logging makes the process's logger: native journald entries with
// structured QSP_* fields when stderr is the journal (systemd.exec(5),
// JOURNAL_STREAM), text or JSON on stderr otherwise. The level can change
// on reload. Whatever the output, no value a client chose can put a
// newline or another control character in a line or a field ([Escape]).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"unicode/utf8"
)

// LevelNotice is for the few events an operator must see whatever
// log_level says: the outcome of a reload that succeeded. It is syslog's
// NOTICE, "normal but significant" (syslog(3), journal priority 5), and
// its number lies above slog.LevelError so that no configured level hides
// it; the outputs name it NOTICE, never ERROR+4.
const LevelNotice = slog.LevelError + 4

// New returns a logger at level on stderr, or to the journal when stderr
// is connected to it; format is "text" or "json" for stderr.
func New(stderr io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: levelName}
	if f, ok := stderr.(*os.File); ok && f == os.Stderr && stderrIsJournal() {
		return slog.New(newJournalHandler(level))
	}
	if format == "json" {
		return slog.New(escaping{slog.NewJSONHandler(stderr, opts)})
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// levelName writes [LevelNotice] as NOTICE.
func levelName(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == LevelNotice {
			a.Value = slog.StringValue("NOTICE")
		}
	}
	return a
}

// ParseLevel turns a configured level name into a slog level; "trace" is
// debug, as the configuration reference says (there is nothing finer).
func ParseLevel(name string) slog.Level {
	if name == "trace" {
		return slog.LevelDebug
	}
	var l slog.Level
	l.UnmarshalText([]byte(name))
	return l
}

// maxClientText bounds, in bytes, a client-chosen string in a log line.
// A ClientHello may be 64 KiB: its server name nearly all of it, or tens
// of thousands of cipher suites that crypto/tls lists in its error
// ("client offered: [...]"), so one hello would log a line of 150 KB and
// more (240 KB once quoted), a cheap way to flood the journal. A DNS name
// is at most 253 bytes (RFC 1035 section 2.3.4), so no real name is cut.
const maxClientText = 512

// Clip shortens a client-chosen string to 512 bytes, on a rune boundary,
// and says how long it was. Escaping is the handler's job ([New]).
func Clip(s string) string {
	if len(s) <= maxClientText {
		return s
	}
	n := maxClientText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:n], len(s))
}
