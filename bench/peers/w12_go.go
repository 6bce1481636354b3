// SPDX-License-Identifier: MIT
// w12_go.go — docs/benchmarks.md W1 and W2 peers in Go.
//
// The like-for-like peer of a thread pool with futures is Go's own pool
// idiom: --threads worker goroutines ranging over a task channel, each task
// carrying its own reply channel (capacity 1, so a worker never waits for
// the submitter: the reply channel is the task's future).  It is built
// before the clock, as weft's pool is.
//
//	W1 throughput: submit n no-op tasks, keep every reply channel, then
//	   receive every result in order and check it; ns per task.  The task
//	   channel holds all n tasks (the "jobs := make(chan job, numJobs)" of
//	   Go's worker-pool examples), so a submit never blocks, as a submit to
//	   weft's unbounded queue never does.
//	W2 round trip: submit one no-op task, wait for its reply, repeat; ns
//	   per round trip.
//
// A third row keeps the old W2 figure, an unbuffered channel ping-pong
// between two goroutines: no pool, no future, and Go's scheduler often
// hands the value over on the same OS thread (the receiver runs next on
// the sender's P), so it is a same-thread hand-off and is labelled so.
package main

// A task: the no-op's argument and the channel its result comes back on.
type task struct {
	arg   int
	reply chan int
}

// A pool of workers goroutines reading tasks; capacity is the task
// channel's buffer.
func startPool(workers, capacity int) chan<- task {
	tasks := make(chan task, capacity)
	for w := 0; w < workers; w++ {
		go func() {
			for t := range tasks {
				t.reply <- noop(t.arg)
			}
		}()
	}
	return tasks
}

//go:noinline
func noop(x int) int { return x }

// The replies of the largest W1 run, allocated once: the harness's array,
// not the workload's (weft's bench keeps its futures array the same way).
var replies []chan int

func w1(n int) float64 {
	if len(replies) < n {
		replies = make([]chan int, n)
	}
	tasks := startPool(benchThreads, n)
	start := benchNow()
	for i := 0; i < n; i++ {
		replies[i] = make(chan int, 1)
		tasks <- task{i + 1, replies[i]}
	}
	for i := 0; i < n; i++ {
		if <-replies[i] != i+1 {
			benchFail("W1 go: task %d gave a wrong result", i)
		}
	}
	elapsed := benchSince(start)
	close(tasks)
	return elapsed / float64(n)
}

func w2(n int) float64 {
	tasks := startPool(benchThreads, 1)
	start := benchNow()
	for i := 0; i < n; i++ {
		reply := make(chan int, 1)
		tasks <- task{i + 1, reply}
		if <-reply != i+1 {
			benchFail("W2 go: round trip %d gave a wrong result", i)
		}
	}
	elapsed := benchSince(start)
	close(tasks)
	return elapsed / float64(n)
}

func pingPong(n int) float64 {
	req := make(chan int)
	rep := make(chan int)
	go func() {
		for v := range req {
			rep <- v
		}
	}()
	start := benchNow()
	for i := 0; i < n; i++ {
		req <- i
		if <-rep != i {
			benchFail("W2 go ping-pong: wrong reply")
		}
	}
	elapsed := benchSince(start)
	close(req)
	return elapsed / float64(n)
}

func main() {
	items, reps := benchInit(1000000, 5, "W1 tasks per run (W2: a fifth, round trips)")
	benchRow("W1", "Go goroutine pool (task channel; reply per task)", w1, items, reps)
	benchRow("W2", "Go goroutine pool (task channel; reply per task)", w2, benchPart(items, 5), reps)
	benchRow("W2", "Go unbuffered channel ping-pong (same-thread hand-off)", pingPong,
		benchPart(items, 5), reps)
}
