package crashtest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the tests leave no goroutine behind (the child's
// pipes, clients, receivers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
