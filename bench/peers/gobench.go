// SPDX-License-Identifier: MIT
// gobench.go — what every Go peer shares (compiled with each of them:
// go build -o X bench/peers/X.go bench/peers/gobench.go), the Go side of
// bench/bench_util.h: the command line --items N --reps R --threads T, the
// harness rule (one warm-up run on a quarter of the work, then R timed
// repetitions), and the CSV row
//
//	workload,implementation,median_ns,min_ns,max_ns,cpu_ns,note
//
// whose wall figures are per operation and whose cpu_ns is the process's
// user + system CPU time (getrusage) per operation over the timed
// repetitions, so that a peer that spins a core to win shows it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The limits bench_util.h sets for the C programs.
const (
	benchMaxReps       = 64
	benchMaxThreads    = 1024
	benchDefaultThread = 2 // docs/benchmarks.md's two threads unless told
)

// benchThreads is --threads: the workers of a pool, the goroutines of a
// contended lock, and GOMAXPROCS (the OS threads that run Go code at once).
var benchThreads = benchDefaultThread

// benchNote is a row's note, set by a workload while it runs (free text;
// commas become semicolons); printed with the row and cleared.
var benchNote string

// benchTally is a workload's own count over the timed repetitions (events
// out of ops, e.g. lock hand-overs out of adds); benchRow zeroes it after
// the warm-up so that the note covers the timed runs only.
var benchTally struct{ events, ops float64 }

// benchInit registers --items, --reps and --threads (a peer registers its
// own flags before calling it), parses the command line, applies
// GOMAXPROCS and returns items and reps.  A bad value prints the usage and
// exits 2.
func benchInit(defaultItems, defaultReps int, itemsHelp string) (items, reps int) {
	flagItems := flag.Int("items", defaultItems, itemsHelp)
	flagReps := flag.Int("reps", defaultReps, "timed repetitions after the warm-up")
	flagThreads := flag.Int("threads", benchDefaultThread,
		"worker goroutines of a pool / goroutines of a contended lock; GOMAXPROCS")
	flag.Parse()
	if *flagItems < 1 || *flagReps < 1 || *flagReps > benchMaxReps ||
		*flagThreads < 1 || *flagThreads > benchMaxThreads || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [--items N] [--reps 1-%d] [--threads 1-%d]\n",
			os.Args[0], benchMaxReps, benchMaxThreads)
		os.Exit(2)
	}
	benchThreads = *flagThreads
	runtime.GOMAXPROCS(benchThreads)
	return *flagItems, *flagReps
}

// benchCPUns is the process's CPU time so far, user + system, in ns.
func benchCPUns() float64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return float64(u.Utime.Nano() + u.Stime.Nano())
}

// benchFail reports a wrong result and exits 1: a fast wrong answer must
// not pass as a fast one.
func benchFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// benchPrintRow prints one CSV row: the median, min and max of samples
// (sorted here), cpu (< 0: not measured) and the note, which it clears.
func benchPrintRow(workload, impl string, samples []float64, cpu float64) {
	sort.Float64s(samples)
	cpuText := ""
	if cpu >= 0 {
		cpuText = fmt.Sprintf("%.2f", cpu)
	}
	fmt.Printf("%s,%s,%.2f,%.2f,%.2f,%s,%s\n", workload, impl, samples[len(samples)/2],
		samples[0], samples[len(samples)-1], cpuText, strings.ReplaceAll(benchNote, ",", ";"))
	benchNote = ""
}

// benchRowOps warms fn up on a quarter of the work (fn(n/4+1)), times it
// reps times (fn(n) returns its own figure, e.g. ns per operation) and
// prints the row with the CPU time per operation, opsPerRun operations in
// each timed run.
func benchRowOps(workload, impl string, fn func(n int) float64, n, reps int, opsPerRun float64) {
	fn(n/4 + 1)
	benchNote = ""
	benchTally.events, benchTally.ops = 0, 0
	samples := make([]float64, reps)
	cpu := benchCPUns()
	for i := range samples {
		samples[i] = fn(n)
	}
	benchPrintRow(workload, impl, samples, (benchCPUns()-cpu)/(opsPerRun*float64(reps)))
}

// benchRow is benchRowOps for a workload whose fn(n) does n operations.
func benchRow(workload, impl string, fn func(n int) float64, n, reps int) {
	benchRowOps(workload, impl, fn, n, reps, float64(n))
}

// benchNow and benchSince time a run: ns since start, monotonic.
func benchNow() time.Time { return time.Now() }

func benchSince(start time.Time) float64 { return float64(time.Since(start).Nanoseconds()) }

// benchPart is n/d, at least 1: a workload's share of --items.
func benchPart(n, d int) int {
	if n/d < 1 {
		return 1
	}
	return n / d
}
