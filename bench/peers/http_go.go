// SPDX-License-Identifier: MIT
// http_go.go — docs/benchmarks.md W12 peer: Go's net/http answering
// GET /hello with "Hello, world!" (13 bytes, text/plain, keep-alive), the way
// Go programs write a server: http.HandleFunc and http.Server.ListenAndServe.
// bench/http_bench.py starts it pinned to one CPU and loads it with wrk and
// h2load.
//
// Fairness:
//   - GOMAXPROCS=1: one P runs Go code, as every W12 server gets one thread
//     (nginx one worker); the runtime's other threads (sysmon, a blocked
//     syscall's) are pinned to the same CPU by taskset.
//   - net.Listen's backlog is the kernel's somaxconn (4096 here), the same
//     4096 the other servers are given.
//   - Go sends a Date header (as nginx does); the response is otherwise the
//     same: status 200, Content-Type, Content-Length, the body.
//   - Other paths get net/http's 404 (the benchmark asks only /hello).
//
// Built alone (it needs none of gobench.go's harness):
//
//	go build -o http_go bench/peers/http_go.go
//
// Usage: http_go --port P [--host 127.0.0.1]
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
)

var body = []byte("Hello, world!")

func hello(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", "13")
	w.Write(body)
}

func main() {
	port := flag.Int("port", 0, "port to listen on (required)")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	flag.Parse()
	if *port <= 0 || *port > 65535 || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "usage: %s --port P [--host H]\n", os.Args[0])
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", hello)
	server := &http.Server{Addr: fmt.Sprintf("%s:%d", *host, *port), Handler: mux}
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintf(os.Stderr, "http_go: %v\n", err)
		os.Exit(1)
	}
}
