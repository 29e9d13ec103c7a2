package logging

import (
	"context"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// Escape makes s safe to put in a log line or a journal field. Clients
// choose some of what is logged (the SNI name, certificate subjects, the
// text of errors that quote them), and a newline there would forge a log
// line, an escape sequence would drive the terminal of whoever reads the
// log. A string of printable characters is returned as it is; any other
// (a control character, C0, DEL or C1, a line or paragraph separator, or
// invalid UTF-8) is returned Go-quoted (strconv.Quote), so that it shows
// what was sent and holds nothing but printable ASCII and printable runes.
func Escape(s string) string {
	if printable(s) {
		return s
	}
	return strconv.Quote(s)
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// escapeValue escapes the strings in v, inside groups too; an error
// value (its message may quote the client) becomes its escaped text.
func escapeValue(v slog.Value) slog.Value {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); !printable(s) {
			return slog.StringValue(Escape(s))
		}
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, len(as))
		for i, a := range as {
			out[i] = slog.Attr{Key: a.Key, Value: escapeValue(a.Value)}
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.StringValue(Escape(err.Error()))
		}
	}
	return v
}

func escapeAttrs(as []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: a.Key, Value: escapeValue(a.Value)}
	}
	return out
}

// escaping is a handler that escapes every string value before the
// handler under it writes it. The JSON handler needs it: JSON escapes C0
// controls but leaves DEL and the C1 controls (U+009B is CSI to many
// terminals) and U+2028 as they are. The text handler needs none: it
// quotes any value that is not printable with strconv.Quote already.
type escaping struct{ slog.Handler }

func (h escaping) Handle(ctx context.Context, r slog.Record) error {
	if plainRecord(r) {
		// Nothing to escape, the common case: the record goes down as it
		// is, without the copy (and its allocation) below.
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Escape(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(slog.Attr{Key: a.Key, Value: escapeValue(a.Value)})
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// plainRecord reports whether r holds nothing escapeValue would change:
// a printable message, and only printable strings and values of kinds
// that print no client text (numbers, booleans, times, durations).
// Groups, errors and other values take the escaping path.
func plainRecord(r slog.Record) bool {
	if !printable(r.Message) {
		return false
	}
	plain := true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Value.Kind() {
		case slog.KindString:
			plain = printable(a.Value.String())
		case slog.KindAny, slog.KindGroup, slog.KindLogValuer:
			plain = false
		}
		return plain
	})
	return plain
}

func (h escaping) WithAttrs(as []slog.Attr) slog.Handler {
	return escaping{h.Handler.WithAttrs(escapeAttrs(as))}
}

func (h escaping) WithGroup(name string) slog.Handler {
	return escaping{h.Handler.WithGroup(name)}
}
