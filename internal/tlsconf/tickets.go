package tlsconf

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/quantum-safe-proxy/quantum-safe-proxy/internal/certs"
)

// Session tickets and their keys.
//
// crypto/tls seals tickets (Config.EncryptTicket: AES-CTR and HMAC-SHA256
// under keys derived from a 32-byte secret, crypto/tls/ticket.go); this
// file owns the secrets and what a ticket may resume:
//
//   - One key ring per process, shared by every snapshot, so that a reload
//     keeps resumption. Keys are random, live only in memory, and a new one
//     is made every [TicketKeyRotation]; each key opens tickets for
//     [TicketKeyLifetime] and is then forgotten. A TLS 1.2 ticket holds the
//     session's master secret, and a resumption re-seals the same secret
//     in a new ticket (crypto/tls handshake_server.go), so a recorded TLS
//     1.2 session can be opened with stolen keys for at most
//     [MaxSessionAge] plus [TicketKeyLifetime]; TLS 1.3 resumption here is
//     always psk_dhe_ke (crypto/tls handshake_server_tls13.go,
//     checkForResumption), so a fresh (post-quantum) key exchange protects
//     every resumed connection whatever becomes of the ticket. Go's own
//     defaults are a key a day kept 7 days (crypto/tls common.go,
//     ticketKeyRotation and ticketKeyLifetime).
//   - Each ticket carries, in SessionState.Extra, when the session's full
//     handshake happened, the served leaf and its key algorithm, the server
//     name, and a fingerprint of the client policy (see [policyFingerprint]).
//     A ticket resumes only while the session is younger than
//     [MaxSessionAge], the client asks for the same name, the current
//     snapshot still serves that leaf for that name, and the client policy
//     is unchanged. Anything else falls back to a full handshake, which
//     applies the current policy in full: a reload never lets in, through
//     an old ticket, a client the new snapshot would refuse.
//   - The allow rules and CRLs are not part of that fingerprint: the peer
//     checks ([PeerCheck]) run from VerifyConnection, which crypto/tls
//     calls on resumed handshakes too, with the client's chains from the
//     ticket, so a resumed client meets the current rules and CRLs
//     anyway. A CA that publishes a CRL every hour then costs no one
//     their session. (On a resumption crypto/tls sends the new ticket in
//     its first flight, before VerifyConnection; a client refused there
//     keeps a ticket as old as its session, which meets the same checks.)
const (
	TicketKeyRotation = time.Hour
	TicketKeyLifetime = 3 * time.Hour
	MaxSessionAge     = 8 * time.Hour
)

// sessionKeys is the process's ticket key ring.
var sessionKeys keyRing

type ticketKey struct {
	secret [32]byte
	made   time.Time
}

// keyRing makes and forgets ticket keys lazily, on use, so that it needs
// no goroutine and follows testing/synctest's clock.
type keyRing struct {
	mu   sync.Mutex
	keys []ticketKey // newest first
	cfg  *tls.Config // holds the keys; used only to seal and open tickets
}

// config returns a tls.Config whose ticket keys are current at now: a
// new key once the newest is TicketKeyRotation old, and none older than
// TicketKeyLifetime.
func (r *keyRing) config(now time.Time) *tls.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh := len(r.keys) > 0 && now.Sub(r.keys[0].made) < TicketKeyRotation
	if fresh && now.Sub(r.keys[len(r.keys)-1].made) < TicketKeyLifetime {
		return r.cfg
	}
	var keys []ticketKey
	if !fresh {
		k := ticketKey{made: now}
		rand.Read(k.secret[:]) // never fails (crypto/rand.Read, Go 1.24)
		keys = append(keys, k)
	}
	for _, old := range r.keys {
		if now.Sub(old.made) < TicketKeyLifetime {
			keys = append(keys, old)
		}
	}
	r.keys = keys
	secrets := make([][32]byte, len(keys))
	for i, k := range keys {
		secrets[i] = k.secret
	}
	if r.cfg == nil {
		r.cfg = &tls.Config{}
	}
	r.cfg.SetSessionTicketKeys(secrets)
	return r.cfg
}

// session is what this package keeps in a ticket.
type session struct {
	created time.Time // of the full handshake
	policy  [32]byte  // [policyFingerprint] of the snapshot that issued it
	leaf    [32]byte  // SHA-256 of the served leaf certificate
	alg     string    // the served leaf's key algorithm, for the log
	sni     string
}

// extraTag starts this package's entry in SessionState.Extra; the version
// lets a later format be told apart (an unknown one means a full handshake).
const extraTag = "quantum-safe-proxy session 1\x00"

func (x *session) marshal() []byte {
	b := []byte(extraTag)
	b = binary.BigEndian.AppendUint64(b, uint64(x.created.Unix()))
	b = append(b, x.policy[:]...)
	b = append(b, x.leaf[:]...)
	b = append(b, byte(len(x.alg)))
	b = append(b, x.alg...)
	return append(b, x.sni...)
}

func parseSession(extra [][]byte) (*session, bool) {
	for _, e := range extra {
		b, ok := bytes.CutPrefix(e, []byte(extraTag))
		if !ok || len(b) < 8+32+32+1 {
			continue
		}
		x := &session{created: time.Unix(int64(binary.BigEndian.Uint64(b)), 0)}
		b = b[8:]
		b = b[copy(x.policy[:], b):]
		b = b[copy(x.leaf[:], b):]
		n := int(b[0])
		if len(b) < 1+n {
			return nil, false
		}
		x.alg, x.sni = string(b[1:1+n]), string(b[1+n:])
		return x, true
	}
	return nil, false
}

// wrap seals a session into a ticket (tls.Config.WrapSession). A resumed
// connection's new ticket keeps the original session's leaf and age, so a
// chain of resumptions ends [MaxSessionAge] after the full handshake.
func (s *Server) wrap(h *Hello, cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	now := time.Now()
	x := &session{created: now, policy: s.policy, sni: cs.ServerName}
	switch {
	case cs.DidResume && h.ticket != nil:
		x.created, x.leaf, x.alg = h.ticket.created, h.ticket.leaf, h.ticket.alg
	case h.Chain != nil:
		x.leaf, x.alg = s.leafSum(h.Chain), h.Chain.Algorithm()
	}
	// With neither (which crypto/tls does not do), the zero leaf matches no
	// chain and the ticket never resumes.
	ss.Extra = append(ss.Extra, x.marshal())
	return sessionKeys.config(now).EncryptTicket(cs, ss)
}

// leafSum is the SHA-256 of c's leaf: the one New computed, when c is
// one of this snapshot's chains (always, since only they are served), so
// that a full handshake does not hash its leaf again (an ML-DSA-65 leaf
// is some 5.5 KB).
func (s *Server) leafSum(c *certs.Chain) [32]byte {
	for i, sc := range s.Chains {
		if sc == c {
			return s.leaves[i]
		}
	}
	return sha256.Sum256(c.Leaf().Raw)
}

// unwrap opens a ticket (tls.Config.UnwrapSession). It returns nil, nil,
// which means a full handshake and not a refusal, for any ticket the
// current snapshot would not have issued.
func (s *Server) unwrap(h *Hello, identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	ss, why := s.open(h, identity, cs)
	debugTicket(h, why)
	return ss, nil
}

// open decrypts and checks a ticket; it returns the session, or why the
// ticket does not resume.
func (s *Server) open(h *Hello, identity []byte, cs tls.ConnectionState) (*tls.SessionState, string) {
	now := time.Now()
	ss, err := sessionKeys.config(now).DecryptTicket(identity, cs)
	if ss == nil || err != nil {
		return nil, ticketUnreadable
	}
	x, ok := parseSession(ss.Extra)
	switch {
	case !ok:
		return nil, ticketForeign
	case now.Sub(x.created) > MaxSessionAge:
		return nil, ticketTooOld
	case now.Before(x.created.Add(-time.Minute)):
		return nil, ticketFuture
	case x.policy != s.policy:
		return nil, ticketPolicy
	case !strings.EqualFold(x.sni, cs.ServerName):
		return nil, ticketServerName
	case !s.servesLeaf(x.leaf, x.sni):
		return nil, ticketLeafDropped
	}
	// crypto/tls may still decline this session (cipher suite, client
	// certificates against the current ClientCAs) and run a full
	// handshake; the proxy reads h.TicketAlg only when cs.DidResume.
	h.ticket, h.TicketAlg = x, x.alg
	return ss, ""
}

// age is how long ago the session's full handshake was, to the second.
func (x *session) age() string { return time.Since(x.created).Truncate(time.Second).String() }

// servesLeaf reports whether the snapshot serves the leaf with this hash
// to clients asking for sni.
func (s *Server) servesLeaf(leaf [32]byte, sni string) bool {
	for i := range s.Chains {
		if s.leaves[i] == leaf && (len(s.names[i]) == 0 || matchName(s.names[i], sni)) {
			return true
		}
	}
	return false
}

// policyFingerprint hashes what decides which clients get in, but for
// what [PeerCheck] checks on every resumption: a ticket from a snapshot
// with another fingerprint does not resume.
func policyFingerprint(s *Server, minVersion uint16) [32]byte {
	h := sha256.New()
	for _, v := range []string{string(s.Mode), string(s.ClientAuth), tls.VersionName(minVersion)} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	if s.ClassicalIssuer {
		h.Write([]byte("strict_client_classical_issuer\x00"))
	}
	for _, r := range s.Roots {
		sum := sha256.Sum256(r.Raw)
		h.Write(sum[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
