// SPDX-License-Identifier: MIT
// w45_go.go — BENCH.md W4 and W5 peer: Go's sync.Mutex.  W4: Lock + Unlock
// on one goroutine, ns per pair; W5: two goroutines each add 1 to a shared
// counter under the mutex n times, ns per add, the count checked.  CSV
// rows.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

func w4(n int) float64 {
	var mu sync.Mutex
	start := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		mu.Unlock()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func w5(n int) float64 {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	start := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counter != 2*n {
		fmt.Fprintf(os.Stderr, "W5 go: count %d, expected %d\n", counter, 2*n)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / float64(2*n)
}

func row(name string, fn func(int) float64, n, reps int) {
	fn(n/4 + 1)
	s := make([]float64, reps)
	for i := range s {
		s[i] = fn(n)
	}
	sort.Float64s(s)
	fmt.Printf("%s,Go sync.Mutex,%.2f,%.2f,%.2f\n", name, s[len(s)/2], s[0], s[len(s)-1])
}

func main() {
	items := flag.Int("items", 20000000, "W4 pairs per run (W5: a tenth, per goroutine)")
	reps := flag.Int("reps", 11, "repetitions")
	flag.Parse()
	row("W4", w4, *items, *reps)
	row("W5", w5, *items/10, *reps)
}
