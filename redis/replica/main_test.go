package replica

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every goroutine a test started (sessions, tickers,
// meta probes, read connections) has ended once the tests are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
