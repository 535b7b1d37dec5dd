package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/outbox"
	"github.com/replsm/replsm/redis/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

// childEnv carries the child's settings (JSON) from the parent test.
const childEnv = "REPLSM_CRASH_CHILD"

// childLifetime bounds a child the parent forgot: it closes and exits.
const childLifetime = 5 * time.Minute

// childOpts is what the parent tells the child.
type childOpts struct {
	Primary       string `json:"primary"`
	StateDir      string `json:"state_dir"`
	NotifyURL     string `json:"notify_url"`
	SnapshotBytes int64  `json:"snapshot_bytes"`
}

// Lines the child prints on stdout for the parent.
const (
	readyPrefix  = "CHILD-READY "
	closedPrefix = "CHILD-CLOSED "
	errorPrefix  = "CHILD-ERROR "
)

// readyLine is what the child reports once it serves: where, and what it
// restored from the state dir.
type readyLine struct {
	Addr     string `json:"addr"`
	Restored bool   `json:"restored"`
	ReplID   string `json:"replid"`
	Offset   int64  `json:"offset"`
	DB       int    `json:"db"`
	Keys     int    `json:"keys"`
}

// TestCrashChild is the child process's body; it runs only when the parent
// sets childEnv. It runs a replica until SIGTERM (then closes it cleanly) or
// until a failpoint kills it.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("helper process of the crash tests")
	}
	var opts childOpts
	if err := json.Unmarshal([]byte(spec), &opts); err != nil {
		fmt.Printf("%s%v\n", errorPrefix, err)
		t.Fatal(err)
	}
	r, err := replica.New(childConfig(opts), clock.New())
	if err != nil {
		fmt.Printf("%s%v\n", errorPrefix, err)
		t.Fatal(err)
	}
	st, err := r.Stats(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		fmt.Printf("%s%v\n", errorPrefix, err)
		_ = r.Close()
		t.Fatal(err)
	}
	ready, _ := json.Marshal(readyLine{Addr: r.Addr(), Restored: st.Restored, ReplID: st.Cursor.ReplID,
		Offset: st.Cursor.Offset, DB: st.Cursor.DB, Keys: st.Keys})
	fmt.Printf("%s%s\n", readyPrefix, ready)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(childLifetime):
	}
	err = r.Close()
	fmt.Printf("%serr=%v\n", closedPrefix, err)
	if err != nil {
		t.Fatal(err)
	}
}

// childConfig: timeouts short enough for a test, a snapshot at least every
// 200 ms of streaming (and every SnapshotBytes), an HTTP sink with a fast
// retry policy.
func childConfig(o childOpts) replica.Config {
	cfg := replica.DefaultConfig()
	cfg.Shards = map[slot.ID]string{0: o.Primary}
	cfg.ListenAddr = "127.0.0.1:0"
	fast := timeouts.Backoff{Initial: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: time.Second}
	cfg.SlotConfig.ReplyTimeout = 2 * time.Second
	cfg.SlotConfig.TransferIdleTimeout = 5 * time.Second
	cfg.SlotConfig.KeepaliveTimeout = 3 * time.Second
	cfg.SlotConfig.Backoff = fast
	cfg.SlotConfig.RecoveryCap = 10
	cfg.Instance.MetaTimeout = 3 * time.Second
	cfg.Instance.ConnectBackoff = fast
	cfg.Instance.Backoff = fast
	cfg.DialTimeout = time.Second
	cfg.ReadTimeout = 4 * time.Second
	cfg.StateDir = o.StateDir
	cfg.SnapshotInterval = 200 * time.Millisecond
	cfg.SnapshotBytes = o.SnapshotBytes
	if o.NotifyURL != "" {
		cfg.Notify = &outbox.HTTPSink{URL: o.NotifyURL, Client: &http.Client{Timeout: 2 * time.Second}}
		cfg.Outbox = outbox.Config{
			Backoff:         timeouts.Backoff{Initial: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.1, Max: 200 * time.Millisecond},
			BreakerFailures: 5,
			BreakerCooldown: 300 * time.Millisecond,
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}
