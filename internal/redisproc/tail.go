package redisproc

import (
	"bytes"
	"os"
	"strings"
)

// fileTail returns the last n lines of path, or "" if it cannot be read.
func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// lastLines returns the last n non-blank lines of s (redis-benchmark's
// progress lines end in "\r"), trimmed and joined with " | ".
func lastLines(s string, n int) string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, " | ")
}
