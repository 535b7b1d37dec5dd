package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseInfo returns the "field:value" lines of an INFO reply (section
// headers and blank lines skipped).
func parseInfo(text string) map[string]string {
	out := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// infoInt reads an integer field of a parsed INFO reply.
func infoInt(info map[string]string, field string) (int64, error) {
	v, ok := info[field]
	if !ok {
		return 0, fmt.Errorf("INFO has no %s", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s=%q: %w", field, v, err)
	}
	return n, nil
}

// attrs parses "a=1,b=x,..." (the value of a slaveN or cmdstat_X line).
func attrs(v string) map[string]string {
	out := make(map[string]string)
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok {
			out[k] = val
		}
	}
	return out
}

// follower is what a primary's INFO replication says about one replica.
type follower struct {
	Port   int
	State  string // "online" once streaming
	Offset int64  // the last offset it acknowledged
}

// followers returns the slaveN lines of a primary's INFO replication, by
// the replica's announced port.
func followers(info map[string]string) (map[int]follower, error) {
	out := make(map[int]follower)
	for k, v := range info {
		if !strings.HasPrefix(k, "slave") {
			continue
		}
		if _, err := strconv.Atoi(k[len("slave"):]); err != nil {
			continue // slave_repl_offset, slave_read_only, ...
		}
		a := attrs(v)
		port, err := strconv.Atoi(a["port"])
		if err != nil {
			return nil, fmt.Errorf("%s: port %q: %w", k, a["port"], err)
		}
		off, err := strconv.ParseInt(a["offset"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: offset %q: %w", k, a["offset"], err)
		}
		out[port] = follower{Port: port, State: a["state"], Offset: off}
	}
	return out, nil
}

// commandCalls reads calls=N of cmdstat_<name> in a parsed INFO
// commandstats; a command never called has no line, which is 0 calls.
func commandCalls(info map[string]string, name string) (uint64, error) {
	v, ok := info["cmdstat_"+name]
	if !ok {
		return 0, nil
	}
	calls := attrs(v)["calls"]
	n, err := strconv.ParseUint(calls, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cmdstat_%s calls=%q: %w", name, calls, err)
	}
	return n, nil
}
