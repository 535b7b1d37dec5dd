// Package failpoint kills the process at named points, so crash tests can
// stop a child process exactly where a real crash would hurt most: after a
// milestone was persisted but before it was delivered, between a snapshot's
// rename and the cursor that names it, in the middle of the stream.
//
// Points are armed only by the environment variable REPLSM_FAILPOINTS, read
// once when the process starts:
//
//	REPLSM_FAILPOINTS=name[=N][,name[=N]...]
//
// Hit(name) on an armed point counts the hit and, on the Nth (default the
// first), writes "failpoint: <name> hit <N>: SIGKILL" to stderr and sends
// SIGKILL to its own process: no deferred function, no Close, no flush
// runs, as in a power cut of the process (the kernel still has what was
// written, which is what an fsync would have made durable anyway).
//
// When the variable is unset or empty, Hit is one load of a nil map and
// costs nothing measurable; production never sets it. A malformed entry is
// reported on stderr once and ignored, never a panic.
package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// EnvVar is the environment variable that arms failpoints.
const EnvVar = "REPLSM_FAILPOINTS"

// Names used by this module (see the callers for the exact spot).
const (
	// OutboxBeforeDeliver: a milestone is durable in the store and about to
	// be handed to the sink.
	OutboxBeforeDeliver = "outbox-before-deliver"
	// OutboxAfterDeliver: the sink accepted a milestone; its ack is not yet
	// recorded in the store.
	OutboxAfterDeliver = "outbox-after-deliver"
	// StreamApply: a stream command was applied to a shard's keyspace; the
	// shard's cursor has not moved past it yet.
	StreamApply = "stream-apply"
	// SnapshotBeforeRename: a shard snapshot is written and synced under its
	// temporary name.
	SnapshotBeforeRename = "snapshot-before-rename"
	// SnapshotBeforeCursor: a shard snapshot is in place under its final
	// name; the store's cursor still names the previous one.
	SnapshotBeforeCursor = "snapshot-before-cursor"
)

type point struct {
	at   int64 // the hit that kills, 1-based
	hits atomic.Int64
}

// armed is nil unless EnvVar names at least one point; it is never
// written after init, so Hit reads it without a lock.
var armed = parse(os.Getenv(EnvVar), os.Stderr)

func parse(spec string, warn *os.File) map[string]*point {
	if strings.TrimSpace(spec) == "" {
		return nil
	}
	out := map[string]*point{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, count, hasCount := strings.Cut(item, "=")
		at := int64(1)
		if hasCount {
			n, err := strconv.ParseInt(count, 10, 64)
			if err != nil || n < 1 {
				if warn != nil {
					fmt.Fprintf(warn, "failpoint: ignoring %q in %s: want name or name=N with N >= 1\n", item, EnvVar)
				}
				continue
			}
			at = n
		}
		out[name] = &point{at: at}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Armed reports whether name is armed in this process.
func Armed(name string) bool {
	_, ok := armed[name]
	return ok
}

// Hit kills the process with SIGKILL if name is armed and this is its Nth
// hit; otherwise it returns at once. It is small enough to be inlined, so a
// disarmed point is one load and one branch in the caller.
func Hit(name string) {
	if armed != nil {
		hit(name)
	}
}

func hit(name string) {
	p := armed[name]
	if p == nil {
		return
	}
	n := p.hits.Add(1)
	if n != p.at {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint: %s hit %d: SIGKILL\n", name, n)
	kill()
}

// kill sends SIGKILL to this process. Should the signal somehow not end it
// at once, exit with the status a SIGKILLed process reports (128+9) rather
// than run on past the failpoint.
func kill() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	os.Exit(137)
}
