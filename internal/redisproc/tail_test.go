package redisproc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLastLines(t *testing.T) {
	got := lastLines("SET: rps=1\r  SET: rps=2   \rSET: 3 requests per second\n\n", 2)
	if want := "SET: rps=2 | SET: 3 requests per second"; got != want {
		t.Errorf("lastLines = %q, want %q", got, want)
	}
	if got := lastLines("", 3); got != "" {
		t.Errorf("lastLines of nothing = %q", got)
	}
}

func TestFileTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if got := fileTail(path, 2); got != "" {
		t.Errorf("tail of a missing file = %q", got)
	}
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fileTail(path, 2); got != "b\nc" {
		t.Errorf("fileTail = %q", got)
	}
	if got := fileTail(path, 5); got != "a\nb\nc" {
		t.Errorf("fileTail = %q", got)
	}
}
