package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// maxLog bounds a log file read back (a run writes a few MB).
const maxLog = 256 << 20

// What the logs say. replsm logs every transition (slog text); redis-server
// logs every attempt to reach its master.
var (
	replsmHandshake = regexp.MustCompile(`msg=transition machine=slot .*\bevent=send_(try|db)_sync\b`)
	replsmBusy      = regexp.MustCompile(`msg=transition machine=slot .*\bevent=busy(_full)?\b`)
)

const (
	replsmExhausted = `msg="slot recovery budget exhausted`
	redisConnecting = "Connecting to MASTER"
)

func isRedisHandshake(line string) bool { return strings.Contains(line, redisConnecting) }

// countReplsm counts replsm's sync handshakes, exhaustion reports and busy
// replies in its log.
func countReplsm(path string) (handshakes, exhausted, busy int, err error) {
	err = eachLine(path, func(line string) {
		switch {
		case replsmHandshake.MatchString(line):
			handshakes++
		case replsmBusy.MatchString(line):
			busy++
		case strings.Contains(line, replsmExhausted):
			exhausted++
		}
	})
	return handshakes, exhausted, busy, err
}

// countLines counts the lines of path that match.
func countLines(path string, match func(string) bool) (int, error) {
	n := 0
	err := eachLine(path, func(line string) {
		if match(line) {
			n++
		}
	})
	return n, err
}

// eachLine calls fn with every complete line of path (a last line still
// being written is left for the next look).
func eachLine(path string, fn func(string)) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() > maxLog {
		return fmt.Errorf("%s: %d bytes, more than the %d this program reads back", path, st.Size(), maxLog)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[:len(lines)-1] {
		fn(line)
	}
	return nil
}
