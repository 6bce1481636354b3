// SPDX-License-Identifier: MIT
// coro_go.go — docs/benchmarks.md's coroutine workloads (issue 16) with
// goroutines, the peers of bench/bench_coro.c.
//
//	W11 yield (W11(b)): two goroutines hand the CPU to each other with
//	    runtime.Gosched, at GOMAXPROCS=1 for the row (weft's loop is one
//	    thread, and Go's idiom for "let the others run" is Gosched); ns per
//	    yield.  Each goroutine notes whether the other ran since its own
//	    last yield: fewer than half of the yields handing over fails (a
//	    yield that comes straight back is no switch), and the note says
//	    what share did.
//	W13: start an empty goroutine and wait for it (sync.WaitGroup), one
//	    at a time; ns per task.  Two rows: GOMAXPROCS=--threads (Go's
//	    default, every CPU) and GOMAXPROCS=1 (one thread, as weft's loop);
//	    every task's run is counted and checked.
//	W8 <n>: n goroutines that each time.Sleep(1 s), then all awaited
//	    (WaitGroup), at GOMAXPROCS=--threads (Go's default: the timers run
//	    on every CPU).  Each run is a fresh process (this program run again
//	    with --w8-child n), as for every W8 implementation: the wall time
//	    from the first go statement to wg.Wait's return (the child's own
//	    clock, startup excluded), ms; the child's CPU per task; and, in the
//	    "W8 <n> RSS" row, its peak resident set (wait4's ru_maxrss), MB
//	    (10^6 bytes).  One child run per size per program run (a fresh
//	    process has nothing to warm up; compare.py's rounds give the
//	    spread); the note gives the bytes per task above an empty run's.
//
// Flags: --items (W13 tasks), --yields (W11 yields), --fanout (W8 sizes,
// comma-separated), --reps, --threads; --w8-child is the child's.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The ping-pong's state: only one goroutine runs at a time (GOMAXPROCS=1),
// and the scheduler's hand-over orders their accesses.
var (
	lastRunner int
	handedOver int
)

func yielder(me, yields int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < yields; i++ {
		lastRunner = me
		runtime.Gosched()
		if lastRunner != me {
			handedOver++
		}
	}
}

// w11Yield: 2 * (n / 2) yields in all; ns per yield.
func w11Yield(n int) float64 {
	per := benchPart(n, 2)
	lastRunner, handedOver = -1, 0
	var wg sync.WaitGroup
	wg.Add(2)
	start := benchNow()
	go yielder(0, per, &wg)
	go yielder(1, per, &wg)
	wg.Wait()
	elapsed := benchSince(start)
	if 2*handedOver < 2*per {
		benchFail("W11 yield go: only %d of %d yields let the other goroutine run",
			handedOver, 2*per)
	}
	benchTally.events += float64(handedOver)
	benchTally.ops += float64(2 * per)
	benchNote = fmt.Sprintf("yields that let the other run: %.1f%%",
		100*benchTally.events/benchTally.ops)
	return elapsed / float64(2*per)
}

// w13SpawnAwait: n times, start an empty goroutine and wait for it.
func w13SpawnAwait(n int) float64 {
	var wg sync.WaitGroup
	ran := 0
	start := benchNow()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			ran++ // ordered by Add before go, and Done before Wait's return
			wg.Done()
		}()
		wg.Wait()
	}
	elapsed := benchSince(start)
	if ran != n {
		benchFail("W13 go: %d of %d goroutines ran", ran, n)
	}
	return elapsed / float64(n)
}

// w8Child: the fan-out in this process; prints the wall ns.
func w8Child(n int) {
	var wg sync.WaitGroup
	start := benchNow()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			time.Sleep(time.Second)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := benchSince(start)
	if n > 0 && elapsed < 1e9 {
		benchFail("W8 go: %d sleeps of 1 s ended after %.0f ns", n, elapsed)
	}
	fmt.Printf("%.0f\n", elapsed)
}

// A child's figures: wall ns (its own clock), CPU ns, peak RSS in bytes.
type childRun struct{ wall, cpu, rss float64 }

func runChild(n int) childRun {
	self, err := os.Executable()
	if err != nil {
		benchFail("W8 go: %v", err)
	}
	cmd := exec.Command(self, "--w8-child", strconv.Itoa(n),
		"--threads", strconv.Itoa(benchThreads))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		benchFail("W8 go: the child of %d sleeps failed: %v", n, err)
	}
	wall, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		benchFail("W8 go: the child printed %q", out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return childRun{wall, float64(ru.Utime.Nano() + ru.Stime.Nano()), float64(ru.Maxrss) * 1024}
}

func sizeLabel(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func w8Rows(n int, impl string, empty childRun) {
	r := runChild(n)
	label := "W8 " + sizeLabel(n)
	note := fmt.Sprintf("peak RSS %.1f MB; %.0f bytes per task above an empty run's %.1f MB",
		r.rss/1e6, (r.rss-empty.rss)/float64(n), empty.rss/1e6)
	benchNote = note
	benchPrintRow(label, impl, []float64{r.wall / 1e6}, r.cpu/float64(n))
	benchNote = note
	benchPrintRow(label+" RSS", impl, []float64{r.rss / 1e6}, -1)
}

func main() {
	yields := flag.Int("yields", 2000000, "W11 yields per run")
	fanout := flag.String("fanout", "100000,1000000", "W8 sizes, comma-separated")
	child := flag.Int("w8-child", -1, "(internal) run one W8 fan-out of this many sleeps")
	items, reps := benchInit(1000000, 5, "W13 tasks per run")
	if *child >= 0 {
		w8Child(*child)
		return
	}
	var sizes []int
	for _, s := range strings.Split(*fanout, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || *yields < 2 {
			benchFail("usage: --fanout N[,N...] with N >= 1, --yields >= 2")
		}
		sizes = append(sizes, n)
	}

	procs := runtime.GOMAXPROCS(1)
	benchRowOps("W11 yield", "Go runtime.Gosched (GOMAXPROCS=1)", w11Yield, *yields, reps,
		float64(2*benchPart(*yields, 2)))
	benchRow("W13", "Go goroutine + WaitGroup (GOMAXPROCS=1)", w13SpawnAwait, items, reps)
	runtime.GOMAXPROCS(procs)
	benchRow("W13", "Go goroutine + WaitGroup", w13SpawnAwait, items, reps)

	empty := runChild(0)
	for _, n := range sizes {
		w8Rows(n, "Go goroutines + WaitGroup", empty)
	}
}
