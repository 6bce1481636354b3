// SPDX-License-Identifier: MIT
// w67_go.go — BENCH.md W6 and W7 with goroutines.  W6: the seed's
// sum(i*i for i in range(n)) for 8 values of n, one goroutine each, against
// the same calls in sequence: the speed-up x1000 (higher is better), results
// checked.  W7: 1000 goroutines each sleeping 0.1 s; wall ms.  CSV rows.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

func sumOfSquares(n uint64) uint64 {
	var s uint64
	for i := uint64(0); i < n; i++ {
		s += i * i
	}
	return s
}

func w6(base int) float64 {
	var serial, parallel [8]uint64
	start := time.Now()
	for i := range serial {
		serial[i] = sumOfSquares(uint64(base + i))
	}
	one := time.Since(start)
	var wg sync.WaitGroup
	start = time.Now()
	for i := range parallel {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			parallel[i] = sumOfSquares(uint64(base + i))
		}(i)
	}
	wg.Wait()
	many := time.Since(start)
	if serial != parallel {
		fmt.Fprintln(os.Stderr, "W6 go: results differ")
		os.Exit(1)
	}
	return 1000 * one.Seconds() / many.Seconds()
}

func w7(n int) float64 {
	var wg sync.WaitGroup
	var done sync.Map
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(100 * time.Millisecond)
			done.Store(i, true)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	count := 0
	done.Range(func(_, _ any) bool { count++; return true })
	if count != n {
		fmt.Fprintln(os.Stderr, "W7 go: not every goroutine ran")
		os.Exit(1)
	}
	return elapsed.Seconds() * 1000
}

func row(name, impl string, fn func(int) float64, n, reps int) {
	fn(n)
	s := make([]float64, reps)
	for i := range s {
		s[i] = fn(n)
	}
	sort.Float64s(s)
	fmt.Printf("%s,%s,%.2f,%.2f,%.2f\n", name, impl, s[len(s)/2], s[0], s[len(s)-1])
}

func main() {
	items := flag.Int("items", 10000000, "W6: the smallest n")
	reps := flag.Int("reps", 7, "repetitions")
	flag.Parse()
	row("W6", "Go goroutines", w6, *items, *reps)
	row("W7", "Go goroutines", w7, 1000, *reps)
}
