package daemon

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

func TestPQShare(t *testing.T) {
	for _, tc := range []struct {
		pq, classical int64
		want          string
	}{
		{0, 0, ""},
		{1, 0, "100% PQ"},
		{0, 3, "0% PQ"},
		{11, 1, "91% PQ"},  // 91.7: rounded down
		{999, 1, "99% PQ"}, // never 100% while one was classical
		{1, 999, "<1% PQ"}, // never 0% while one was PQ
		{1, 99, "1% PQ"},
	} {
		if got := pqShare(tc.pq, tc.classical); got != tc.want {
			t.Errorf("pqShare(%d, %d) = %q, want %q", tc.pq, tc.classical, got, tc.want)
		}
	}
}

// STATUS= shows the PQ share of the connections served: a PQ client and
// a classical one make 50%; a client that sends nothing is refused and
// counted apart, not in the share.
func TestStatusShowsPQShare(t *testing.T) {
	notify := listenNotify(t)
	r := startDaemon(t)
	notify.next(t, "READY=1", 10*time.Second)
	for _, groups := range [][]tls.CurveID{nil, {tls.X25519}} { // Go's default offers X25519MLKEM768 first
		c, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true, CurvePreferences: groups})
		if err != nil {
			t.Fatal(err)
		}
		if pq := c.ConnectionState().CurveID == tls.X25519MLKEM768; pq != (groups == nil) {
			t.Fatalf("groups %v: negotiated %v", groups, c.ConnectionState().CurveID)
		}
		c.Close()
	}
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	notify.next(t, "STATUS=3 connections, 50% PQ, 0 open, 1 refused", 5*time.Second)
}
