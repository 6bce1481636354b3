// SPDX-License-Identifier: MIT
// w45_go.go — docs/benchmarks.md W4 and W5 peers: Go's sync.Mutex.
//
//	W4: Lock + Unlock on one goroutine; ns per pair.  (A Go process always
//	    runs several OS threads, so the mutex is never in a single-threaded
//	    fast path: W4's rule holds by itself.)
//	W5: --threads goroutines (default 2) each add 1 to a shared counter
//	    under the mutex n times; ns per add, the count checked.  They all
//	    start together: each is parked on a gate (a channel closed after
//	    all have reached it) before the clock starts, so none runs its
//	    share alone before the others exist.  The note says how often the
//	    mutex changed hands, from a last-owner variable read and written
//	    under the lock: a lock that never hands over wins by starving the
//	    other goroutines, and the note shows it.
package main

import (
	"fmt"
	"sync"
)

func w4(n int) float64 {
	var mu sync.Mutex
	start := benchNow()
	for i := 0; i < n; i++ {
		mu.Lock()
		mu.Unlock()
	}
	return benchSince(start) / float64(n)
}

func w5(n int) float64 {
	var mu sync.Mutex
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	counter, handOvers, last := 0, 0, -1
	for g := 0; g < benchThreads; g++ {
		ready.Add(1)
		done.Add(1)
		go func(me int) {
			defer done.Done()
			ready.Done()
			<-gate
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				if last != me {
					if last >= 0 {
						handOvers++
					}
					last = me
				}
				mu.Unlock()
			}
		}(g)
	}
	ready.Wait()
	start := benchNow()
	close(gate)
	done.Wait()
	elapsed := benchSince(start)
	adds := benchThreads * n
	if counter != adds {
		benchFail("W5 go: count %d, expected %d", counter, adds)
	}
	benchTally.events += float64(handOvers)
	benchTally.ops += float64(adds)
	benchNote = fmt.Sprintf("hand-overs per 10 adds: %.3g",
		10*benchTally.events/benchTally.ops)
	return elapsed / float64(adds)
}

func main() {
	items, reps := benchInit(20000000, 11, "W4 pairs per run (W5: a tenth, adds per goroutine)")
	benchRow("W4", "Go sync.Mutex", w4, items, reps)
	perGoroutine := benchPart(items, 10)
	benchRowOps("W5", "Go sync.Mutex", w5, perGoroutine, reps,
		float64(perGoroutine*benchThreads))
}
