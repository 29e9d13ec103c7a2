package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"unicode"

	"github.com/coreos/go-systemd/v22/journal"
)

// hostile is what a client may put in its SNI name or certificate
// subject: a forged second line, a terminal escape, a NUL, DEL, a C1 CSI
// and a line separator.
const hostile = "evil.example\nlevel=ERROR msg=forged\r\x1b[31mred\x00\x7f\u009b2J\u2028end"

// assertClean fails when out holds a control character other than the
// newline that ends each line, or more lines than want.
func assertClean(t *testing.T, out string, lines int) {
	t.Helper()
	if n := strings.Count(out, "\n"); n != lines {
		t.Errorf("%d lines, want %d:\n%s", n, lines, out)
	}
	for _, r := range strings.TrimSuffix(out, "\n") {
		if r == '\n' || unicode.IsControl(r) || r == '\u2028' {
			t.Errorf("control character %U reached the output: %q", r, out)
			return
		}
	}
}

func log(l *slog.Logger) {
	l.With("client", "192.0.2.1:4433").Warn("handshake refused", "sni", hostile, "identity", hostile,
		"error", &testError{hostile}, "group", slog.GroupValue(slog.String("subject", hostile)))
}

type testError struct{ s string }

func (e *testError) Error() string { return "x509: certificate is valid for " + e.s }

func TestEscapeText(t *testing.T) {
	var b bytes.Buffer
	log(New(&b, "text", new(slog.LevelVar)))
	assertClean(t, b.String(), 1)
	if !strings.Contains(b.String(), `sni="evil.example\nlevel=ERROR msg=forged\r\x1b[31mred\x00\x7f\u009b2J\u2028end"`) {
		t.Errorf("sni not quoted as Go does: %s", b.String())
	}
}

func TestEscapeJSON(t *testing.T) {
	var b bytes.Buffer
	log(New(&b, "json", new(slog.LevelVar)))
	assertClean(t, b.String(), 1)
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	// The value decodes to the Go-quoted form: what was sent, escaped.
	if want := `"evil.example\nlevel=ERROR msg=forged\r\x1b[31mred\x00\x7f\u009b2J\u2028end"`; m["sni"] != want {
		t.Errorf("sni %q, want %q", m["sni"], want)
	}
	if m["identity"] != m["sni"] || !strings.HasPrefix(m["error"].(string), `"x509: certificate is valid for evil.example\n`) {
		t.Errorf("identity %q, error %q", m["identity"], m["error"])
	}
	if m["msg"] != "handshake refused" || m["client"] != "192.0.2.1:4433" {
		t.Errorf("plain values changed: %v", m)
	}
}

func TestEscapeJournal(t *testing.T) {
	var got struct {
		msg  string
		vars map[string]string
	}
	h := newJournalHandler(new(slog.LevelVar))
	h.send = func(msg string, _ journal.Priority, vars map[string]string) error {
		got.msg, got.vars = msg, vars
		return nil
	}
	log(slog.New(h))
	assertClean(t, got.msg, 0)
	for k, v := range got.vars {
		assertClean(t, v, 0)
		if k == "QSP_SNI" && v != Escape(hostile) {
			t.Errorf("QSP_SNI=%s, want %s", v, Escape(hostile))
		}
	}
	if got.vars["QSP_SNI"] == "" || got.vars["QSP_IDENTITY"] == "" || got.vars["QSP_ERROR"] == "" {
		t.Errorf("fields missing: %v", got.vars)
	}
	if got.vars["QSP_CLIENT_ADDR"] != "192.0.2.1:4433" {
		t.Errorf("QSP_CLIENT_ADDR=%q changed", got.vars["QSP_CLIENT_ADDR"])
	}
}

func TestEscapeLeavesPrintable(t *testing.T) {
	for _, s := range []string{"", "localhost", "CN=café, O=Example", "xn--caf-dma.example"} {
		if Escape(s) != s {
			t.Errorf("Escape(%q) = %q", s, Escape(s))
		}
	}
	if Escape("a\xffb") != `"a\xffb"` {
		t.Errorf("invalid UTF-8: %q", Escape("a\xffb"))
	}
}
