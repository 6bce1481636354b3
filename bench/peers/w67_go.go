// SPDX-License-Identifier: MIT
// w67_go.go — docs/benchmarks.md W6 and W7 peers with goroutines.
//
//	W6: the seed's sum(i*i for i in range(n)) for 8 values of n, one
//	    goroutine each (the Go idiom for a parallel map), against the same
//	    calls in sequence, measured right before: the speed-up x1000
//	    (higher is better), results checked.  --threads sets GOMAXPROCS,
//	    the OS threads that run the goroutines at once (weft's pool gets
//	    the same number of workers).  cpu_ns is per task run: each
//	    repetition runs the 8 tasks in sequence and then in parallel.
//	W7: 1000 tasks each sleeping 0.1 s; wall ms, cpu_ns per task; every
//	    task's sleep is timed and must have lasted at least 0.1 s.
//	    "W7 first pool": a go statement per task, WaitGroup — how Go code
//	    is written (goroutines need no pool: starting one is the cheap
//	    part), the counterpart of a pool whose threads are created inside
//	    the clock.  "W7 reused pool": a pool of 1000 goroutines reading a
//	    task channel, started and through one full round before the clock
//	    (the counterpart of a pool's second round, its threads already
//	    there); Go users seldom write it for sleeps, and the note says so.
package main

import (
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
	start := benchNow()
	for i := range serial {
		serial[i] = sumOfSquares(uint64(base + i))
	}
	one := benchSince(start)
	var wg sync.WaitGroup
	start = benchNow()
	for i := range parallel {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			parallel[i] = sumOfSquares(uint64(base + i))
		}(i)
	}
	wg.Wait()
	many := benchSince(start)
	if serial != parallel {
		benchFail("W6 go: results differ")
	}
	return 1000 * one / many
}

const tenth = 100 * time.Millisecond

// sleepTenth sleeps 0.1 s and says how long the sleep really lasted.
func sleepTenth() time.Duration {
	t0 := time.Now()
	time.Sleep(tenth)
	return time.Since(t0)
}

// checkSlept fails unless each of the n tasks ran and slept its 0.1 s.
func checkSlept(slept []time.Duration) {
	for i, d := range slept {
		if d < tenth {
			benchFail("W7 go: task %d slept %v, not 0.1 s (or did not run)", i, d)
		}
	}
}

// W7 first pool: a goroutine per task.
func w7Spawn(n int) float64 {
	slept := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := benchNow()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			slept[i] = sleepTenth()
		}(i)
	}
	wg.Wait()
	elapsed := benchSince(start)
	checkSlept(slept)
	return elapsed / 1e6
}

// A pool of goroutines reading tasks (the index of a task's result slot)
// from a channel; done counts finished tasks.
type sleepPool struct {
	tasks chan int
	slept []time.Duration
	done  sync.WaitGroup
}

func newSleepPool(workers, maxTasks int) *sleepPool {
	p := &sleepPool{tasks: make(chan int, maxTasks), slept: make([]time.Duration, maxTasks)}
	for w := 0; w < workers; w++ {
		go func() {
			for i := range p.tasks {
				p.slept[i] = sleepTenth()
				p.done.Done()
			}
		}()
	}
	return p
}

// round submits n sleeps, waits for them all; wall ms.
func (p *sleepPool) round(n int) float64 {
	for i := range p.slept[:n] {
		p.slept[i] = 0
	}
	p.done.Add(n)
	start := benchNow()
	for i := 0; i < n; i++ {
		p.tasks <- i
	}
	p.done.Wait()
	elapsed := benchSince(start)
	checkSlept(p.slept[:n])
	return elapsed / 1e6
}

func main() {
	items, reps := benchInit(10000000, 7, "W6: the smallest n")
	benchRowOps("W6", "Go goroutines", w6, items, reps, 16)
	const tasks = 1000
	benchRowOps("W7 first pool", "Go goroutine per task", func(n int) float64 {
		benchNote = "a go statement per task: goroutines need no pool"
		return w7Spawn(n)
	}, tasks, reps, tasks)
	pool := newSleepPool(tasks, tasks)
	pool.round(tasks) // the first round: every worker has run
	benchNote = ""
	benchRowOps("W7 reused pool", "Go goroutine pool (1000 workers; task channel)",
		func(n int) float64 {
			benchNote = "a pool Go code seldom writes: it spawns per task (the first-pool row)"
			return pool.round(n)
		}, tasks, reps, tasks)
	close(pool.tasks)
}
