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
	var fails []string
	var longest time.Duration
	code := 0
	for _, r := range rs {
		fmt.Print(r.out)
		if r.err != nil {
			fmt.Fprintln(os.Stderr, "replsm-explore:", r.err)
			code = 2
		}
		fails = append(fails, r.failures...)
		longest = max(longest, r.elapsed)
	}
	rate := 0.0
	if longest > 0 {
		rate = float64(seeds) / longest.Minutes()
	}
	line := fmt.Sprintf("explore: %d seeds, %d failures, %.0f seeds/min", seeds, len(fails), rate)
	if len(fails) > 0 {
		line += " (failing seeds: " + strings.Join(fails, " ") + ")"
		if code == 0 {
			code = 1
		}
	}
	fmt.Println(line)
	return code
}
