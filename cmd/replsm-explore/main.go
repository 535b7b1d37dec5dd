// Command replsm-explore runs the seeded explorer (replsmtest) and ends
// with one summary line:
//
//	explore: N seeds, F failures, R seeds/min (failing seeds: ...)
//
// Each failure is printed before it: the broken invariants, then the
// minimized history as a scenario script that `replsm simulate --script`
// replays and that can go under testdata/scenarios as a regression.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/replsm/replsm/replsmtest"
)

func main() {
	seeds := flag.Int("seeds", 10000, "number of seeds (histories) to run")
	base := flag.Uint64("base", 1, "first seed")
	workers := flag.Int("workers", runtime.NumCPU(), "processes' worth of parallel runs (each its own child)")
	steps := flag.Int("steps", 30, "average number of steps per history")
	child := flag.Bool("child", false, "internal: run seeds in this process and print only failures and a count")
	flag.Parse()
	if *seeds < 0 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "replsm-explore: -seeds must be >= 0 and -workers >= 1")
		os.Exit(2)
	}
	_ = flag.Set("rapid.steps", strconv.Itoa(*steps))
	if *child || *workers == 1 {
		res := replsmtest.RunSeeds(*base, *seeds, replsmtest.Property(replsmtest.Options{Followers: true}))
		for _, f := range res.Failures {
			fmt.Printf("--- seed %d\n%s\n", f.Seed, f.Message)
		}
		fmt.Println(res.Summary())
		if len(res.Failures) > 0 {
			os.Exit(1)
		}
		return
	}
	os.Exit(parallel(*base, *seeds, *workers, *steps))
}

// parallel splits the seeds over child processes (rapid's seed is a
// process-wide flag, so one process runs one check at a time) and merges
// their summaries into one line.
func parallel(base uint64, seeds, workers, steps int) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "replsm-explore:", err)
		return 2
	}
	per := (seeds + workers - 1) / workers
	var mu sync.Mutex
	var wg sync.WaitGroup
	outs := make([]childResult, workers)
	for w := 0; w < workers; w++ {
		n := min(per, seeds-w*per)
		if n <= 0 {
			continue
		}
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			r := runChild(exe, base+uint64(w*per), n, steps)
			mu.Lock()
			outs[w] = r
			mu.Unlock()
		}(w, n)
	}
	wg.Wait()
	return merge(outs, seeds)
}
