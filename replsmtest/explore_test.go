package replsmtest

import (
	"testing"
)

// TestExplore is the fixed budget `go test` runs: enough seeds to cross
// every command and timer, well under a minute even with -race.
func TestExplore(t *testing.T) {
	n := 600
	if testing.Short() {
		n = 50
	}
	Explore(t, 1, n, Options{Followers: true})
}
