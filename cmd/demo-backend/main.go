// Command demo-backend is the backend `make run` starts behind the proxy:
// a plain TCP echo server that greets each connection, so that a user sees
// bytes travel through the post-quantum tunnel and back.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:6000", "address to echo on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-backend: error: %v\n", err)
		os.Exit(1)
	}
	log.Printf("demo-backend: echoing on %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("demo-backend: %v", err)
		}
		go func() {
			defer c.Close()
			fmt.Fprintf(c, "hello from the backend at %s; type a line and it comes back\n", ln.Addr())
			io.Copy(c, c)
		}()
	}
}
