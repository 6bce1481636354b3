// SPDX-License-Identifier: MIT
// w3_go.go — BENCH.md W3 peer: Go's buffered channel (capacity 1024),
// 1 producer/1 consumer and 2/2, ns per item, median of interleaved reps.
// Prints CSV rows: workload,implementation,median_ns,min_ns,max_ns
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

func run(pairs int, items int) float64 {
	ch := make(chan uintptr, 1024)
	per := items / pairs
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total uint64
	start := time.Now()
	for p := 0; p < pairs; p++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 1; i <= per; i++ {
				ch <- uintptr(i)
			}
		}()
		go func() {
			defer wg.Done()
			var sum uint64
			for i := 0; i < per; i++ {
				sum += uint64(<-ch)
			}
			mu.Lock()
			total += sum
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := uint64(per)
	if total != uint64(pairs)*n*(n+1)/2 {
		fmt.Fprintln(os.Stderr, "W3 go: items lost")
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / float64(per*pairs)
}

func main() {
	items := flag.Int("items", 2000000, "items per run")
	reps := flag.Int("reps", 9, "repetitions")
	flag.Parse()
	for pairs := 1; pairs <= 2; pairs++ {
		run(pairs, *items/4)
		samples := make([]float64, *reps)
		for i := range samples {
			samples[i] = run(pairs, *items)
		}
		sort.Float64s(samples)
		fmt.Printf("W3 %dP/%dC,Go buffered chan,%.2f,%.2f,%.2f\n", pairs, pairs,
			samples[len(samples)/2], samples[0], samples[len(samples)-1])
	}
}
