package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/replsm/replsm/internal/redisproc"
)

// StartSentinels launches n real redis-sentinel processes for t, each
// monitoring the primary on 127.0.0.1:primaryPort as master with quorum
// (down-after 1.5 s, failover-timeout 10 s: redisproc.StartSentinel), and
// waits (up to 60 s) until every one of them says SENTINEL CKQUORUM OK with
// all n sentinels usable, i.e. they found each other through the primary.
// The test's cleanup stops them.
func StartSentinels(t testing.TB, master string, primaryPort, n, quorum int) []*Server {
	t.Helper()
	out := make([]*Server, n)
	for i := range out {
		name := fmt.Sprintf("sentinel-%d", i)
		proc, err := redisproc.StartSentinel(context.Background(), redisproc.SentinelOptions{
			Dir: t.TempDir(), Master: master, MasterPort: primaryPort, Quorum: quorum,
			Server: redisproc.Options{Name: name},
		})
		if err != nil {
			t.Fatalf("redistest.StartSentinels: %v", err)
		}
		s := &Server{t: t, name: name, proc: proc}
		t.Cleanup(s.cleanup)
		out[i] = s
	}
	want := fmt.Sprintf("%d usable", n)
	for _, s := range out {
		c := s.Client()
		RequireEventually(t, 60*time.Second, s.name+" to see its quorum", func(ctx context.Context) error {
			v, err := c.Do(ctx, "SENTINEL", "CKQUORUM", master).Text()
			if err != nil {
				return err
			}
			if !strings.Contains(v, want) {
				return fmt.Errorf("CKQUORUM: %s", v)
			}
			return nil
		})
	}
	return out
}
