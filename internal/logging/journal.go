package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/journal"
)

// StderrIsJournal says whether stderr is connected to the journal
// (systemd.exec(5), JOURNAL_STREAM).
func StderrIsJournal() bool { return stderrIsJournal() }

func stderrIsJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok && journal.Enabled()
}

// fieldNames renames the log keys whose journal field names are part of
// the documented interface (README, "journald fields"); other keys become
// QSP_ plus the key in upper case.
var fieldNames = map[string]string{
	"client":   "QSP_CLIENT_ADDR",
	"group":    "QSP_TLS_GROUP",
	"listener": "QSP_LISTENER",
}

func fieldName(key string) string {
	if n, ok := fieldNames[key]; ok {
		return n
	}
	return "QSP_" + strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return '_'
		}
		return unicode.ToUpper(r)
	}, key)
}

// journalHandler writes each record as one journal entry: MESSAGE is the
// message with its attributes as key=value (what `journalctl` shows), and
// every attribute is also a field (what `journalctl QSP_PQ=0` matches).
type journalHandler struct {
	level *slog.LevelVar
	attrs []slog.Attr
	send  func(message string, p journal.Priority, vars map[string]string) error // journal.Send
}

func newJournalHandler(level *slog.LevelVar) *journalHandler {
	return &journalHandler{level: level, send: journal.Send}
}

func (h *journalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{level: h.level, attrs: append(append([]slog.Attr{}, h.attrs...), as...), send: h.send}
}

func (h *journalHandler) WithGroup(string) slog.Handler { return h }

func (h *journalHandler) Handle(_ context.Context, r slog.Record) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "quantum-safe-proxy"}
	var msg strings.Builder
	msg.WriteString(Escape(r.Message))
	add := func(a slog.Attr) bool {
		v := value(a.Value)
		vars[fieldName(a.Key)] = Escape(v)
		fmt.Fprintf(&msg, " %s=%s", a.Key, quote(v))
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	return h.send(msg.String(), priority(r.Level), vars)
}

// value renders booleans as 1/0, so `journalctl QSP_PQ=0` works.
func value(v slog.Value) string {
	v = v.Resolve()
	if err, ok := v.Any().(error); ok && v.Kind() == slog.KindAny {
		return err.Error()
	}
	if v.Kind() == slog.KindBool {
		if v.Bool() {
			return "1"
		}
		return "0"
	}
	return v.String()
}

// quote writes a value into MESSAGE: Go-quoted when it is empty, holds a
// separator, or is not all printable ([Escape]).
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=") || !printable(s) {
		return strconv.Quote(s)
	}
	return s
}

func priority(l slog.Level) journal.Priority {
	switch {
	case l == LevelNotice:
		return journal.PriNotice
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}
