package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/replsm/replsm/replsmtest"
)

type childResult struct {
	out      string // failures, as printed
	failures []string
	elapsed  time.Duration
	err      error
}

var summary = regexp.MustCompile(`(?m)^explore: (\d+) seeds, (\d+) failures, [0-9.]+ seeds/min(?: \(failing seeds: ([0-9 ]+)\))?$`)

func runChild(exe string, base uint64, n, steps int) childResult {
	start := time.Now()
	cmd := exec.Command(exe, "-child", "-seeds", strconv.Itoa(n), "-base", strconv.FormatUint(base, 10), "-steps", strconv.Itoa(steps))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	r := childResult{elapsed: time.Since(start)}
	m := summary.FindStringSubmatch(out.String())
	if m == nil {
		r.err = fmt.Errorf("child seeds %d..%d: no summary (%v)", base, base+uint64(n)-1, err)
		r.out = out.String()
		return r
	}
	r.out = strings.TrimSuffix(out.String(), m[0]+"\n")
	if m[3] != "" {
		r.failures = strings.Fields(m[3])
	}
	return r
}

// merge prints every child's failures, then one summary line for all.
func merge(rs []childResult, seeds int) int {
	all := replsmtest.Result{Seeds: seeds}
	code := 0
	for _, r := range rs {
		fmt.Print(r.out)
		if r.err != nil {
			fmt.Fprintln(os.Stderr, "replsm-explore:", r.err)
			code = 2
		}
		for _, f := range r.failures {
			seed, _ := strconv.ParseUint(f, 10, 64) // digits, by the summary's pattern
			all.Failures = append(all.Failures, replsmtest.SeedFailure{Seed: seed})
		}
		// The children run side by side: the slowest one is the run's time.
		all.Elapsed = max(all.Elapsed, r.elapsed)
	}
	if len(all.Failures) > 0 && code == 0 {
		code = 1
	}
	fmt.Println(all.Summary())
	return code
}
