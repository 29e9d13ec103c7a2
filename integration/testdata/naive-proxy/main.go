// Command naive-proxy is the baseline the project is measured against
// (DESIGN.md, performance model): a crypto/tls listener and two io.Copy
// per connection, with Go's defaults (-client-ca: require and verify
// client certificates). It lives under testdata so that
// `go build ./...` leaves it out; the load benchmark builds it.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "")
	target := flag.String("target", "127.0.0.1:6000", "")
	var certs, keys multi
	flag.Var(&certs, "cert", "")
	flag.Var(&keys, "key", "")
	clientCA := flag.String("client-ca", "", "require client certificates chaining to these roots")
	flag.Parse()
	cfg := &tls.Config{}
	if *clientCA != "" {
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			log.Fatal(err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		cfg.ClientCAs.AppendCertsFromPEM(pem)
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	for i := range certs {
		c, err := tls.LoadX509KeyPair(certs[i], keys[i])
		if err != nil {
			log.Fatal(err)
		}
		cfg.Certificates = append(cfg.Certificates, c)
	}
	ln, err := tls.Listen("tcp", *listen, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "{\"msg\":\"listening\",\"address\":%q}\n", ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", *target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
			io.Copy(c, u)
		}()
	}
}

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
