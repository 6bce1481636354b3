// SPDX-License-Identifier: MIT
// w2_go.go — BENCH.md W2 peer: Go unbuffered channel ping-pong between two
// goroutines: send a request, receive the reply, repeat; ns per round trip.
package main

import (
	"flag"
	"fmt"
	"sort"
	"time"
)

func run(n int) float64 {
	req := make(chan int)
	rep := make(chan int)
	go func() {
		for v := range req {
			rep <- v
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		req <- i
		if <-rep != i {
			panic("W2 go: wrong reply")
		}
	}
	elapsed := time.Since(start)
	close(req)
	return float64(elapsed.Nanoseconds()) / float64(n)
}

func main() {
	items := flag.Int("items", 200000, "round trips per run")
	reps := flag.Int("reps", 5, "repetitions")
	flag.Parse()
	run(*items / 4)
	s := make([]float64, *reps)
	for i := range s {
		s[i] = run(*items)
	}
	sort.Float64s(s)
	fmt.Printf("W2,Go unbuffered channel,%.2f,%.2f,%.2f\n", s[len(s)/2], s[0], s[len(s)-1])
}
