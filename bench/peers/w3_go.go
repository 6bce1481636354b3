// SPDX-License-Identifier: MIT
// w3_go.go — docs/benchmarks.md W3 peer: Go's buffered channel (capacity 1024, the
// queue's size in every W3 row), 1 producer / 1 consumer and 2 / 2
// goroutines, blocking send and receive; ns per item, the sum of the items
// checked.  The shapes are W3's own; --threads sets GOMAXPROCS (how many
// of those goroutines run at once), as it sets the OS threads of the other
// peers.  cpu_ns is per item.
package main

import "sync"

func run(pairs int, items int) float64 {
	ch := make(chan uintptr, 1024)
	per := benchPart(items, pairs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total uint64
	start := benchNow()
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
	elapsed := benchSince(start)
	n := uint64(per)
	if total != uint64(pairs)*n*(n+1)/2 {
		benchFail("W3 go: items lost")
	}
	return elapsed / float64(per*pairs)
}

func main() {
	items, reps := benchInit(2000000, 9, "items per run")
	for pairs := 1; pairs <= 2; pairs++ {
		pairs := pairs
		fn := func(n int) float64 { return run(pairs, n) }
		name := map[int]string{1: "W3 1P/1C", 2: "W3 2P/2C"}[pairs]
		benchRowOps(name, "Go buffered chan", fn, items, reps,
			float64(benchPart(items, pairs)*pairs))
	}
}
