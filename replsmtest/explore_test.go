package replsmtest

import (
	"testing"

	"pgregory.net/rapid"
)

func TestExplore(t *testing.T) {
	rapid.Check(t, Property(Options{Followers: true}))
}
