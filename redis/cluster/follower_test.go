package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/replsm/replsm/slot"
)

// fakeTarget records what a Follower asks of the replica.
type fakeTarget struct {
	mu      sync.Mutex
	shards  map[slot.ID]string
	routes  *Routes
	log     []string
	failAdd bool
}

func (f *fakeTarget) AddShard(id slot.ID, addr, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAdd {
		return errors.New("refused")
	}
	f.shards[id] = addr
	f.log = append(f.log, fmt.Sprintf("add %d %s", id, addr))
	return nil
}

func (f *fakeTarget) RepointShard(id slot.ID, addr, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards[id] = addr
	f.log = append(f.log, fmt.Sprintf("repoint %d %s", id, addr))
	return nil
}

func (f *fakeTarget) RemoveShard(id slot.ID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.shards, id)
	f.log = append(f.log, fmt.Sprintf("remove %d", id))
	return nil
}

func (f *fakeTarget) SetRoutes(rt *Routes) {
	f.mu.Lock()
	f.routes = rt
	f.mu.Unlock()
}

func (f *fakeTarget) owner(sl int) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.routes == nil {
		return 0, false
	}
	return f.routes.Owner(sl)
}

// scripted is a Discover that answers from a settable map or error.
type scripted struct {
	mu    sync.Mutex
	m     Map
	err   error
	calls int
}

func (s *scripted) set(m Map, err error) {
	s.mu.Lock()
	s.m, s.err = m, err
	s.mu.Unlock()
}

func (s *scripted) discover(context.Context, []string) (Map, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.m, s.err
}

// until advances the mock clock in steps until cond holds (real-time
// deadline: the goroutines under test run on a busy machine).
func until(t *testing.T, clk *clock.Mock, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clk.Add(50 * time.Millisecond) // the mock yields to other goroutines on Add
	}
}

func TestFollowerBootstrapRetriesThenFollowsFailoverAndReshard(t *testing.T) {
	clk := clock.NewMock()
	d := &scripted{}
	d.set(Map{}, fmt.Errorf("%w: no seed answered", ErrUnreachable))
	f, err := NewFollower(Config{Seeds: []string{"127.0.0.1:7000"}, Discover: d.discover, Seed: 1, Interval: time.Hour}, clk)
	if err != nil {
		t.Fatal(err)
	}
	type boot struct {
		shards map[slot.ID]string
		err    error
	}
	done := make(chan boot, 1)
	go func() {
		s, err := f.Bootstrap(context.Background())
		done <- boot{s, err}
	}()
	until(t, clk, "a few failed discoveries", func() bool { return f.Status().Failures >= 3 })
	d.set(three(), nil)
	var b boot
	until(t, clk, "bootstrap", func() bool {
		select {
		case b = <-done:
			return true
		default:
			return false
		}
	})
	if b.err != nil || len(b.shards) != 3 || b.shards[0] != "127.0.0.1:7000" {
		t.Fatalf("bootstrap = %+v", b)
	}

	tg := &fakeTarget{shards: b.shards}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.Run(ctx, tg); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })
	until(t, clk, "routes", func() bool { o, ok := tg.owner(0); return ok && o == 0 })

	// Seeds disagree: nothing changes, the error is reported.
	d.set(Map{}, fmt.Errorf("%w: test", ErrInconsistent))
	before := f.Status().Failures
	f.Nudge()
	until(t, clk, "a reported failure", func() bool { return f.Status().Failures > before })
	if st := f.Status(); !errors.Is(st.LastError, ErrInconsistent) || len(st.Followed) != 3 {
		t.Fatalf("status = %+v", st)
	}

	// A failover: dddd replaces aaaa; shard 0 is re-pointed (found by the
	// backoff retry, no nudge needed).
	m := three()
	m.Shards[0] = Shard{MasterID: "dddd", Master: "127.0.0.1:7003", Nodes: []string{"dddd"}, Ranges: []Range{{0, 5460}}}
	d.set(m, nil)
	until(t, clk, "re-point", func() bool {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return tg.shards[0] == "127.0.0.1:7003"
	})

	// A resharding to a new master, which is added as shard 3 and owns
	// slots 0-99; then shard 2's master gives up all its slots.
	m.Shards[0].Ranges = []Range{{100, 5460}}
	m.Shards[1].Ranges = []Range{{5461, 16383}}
	m.Shards = append([]Shard{{MasterID: "gggg", Master: "127.0.0.1:7006", Ranges: []Range{{0, 99}}}}, m.Shards[:2]...)
	d.set(m, nil)
	f.Nudge()
	until(t, clk, "reshard applied", func() bool { o, ok := tg.owner(50); return ok && o == 3 })
	if o, _ := tg.owner(16000); o != 1 {
		t.Fatalf("slot 16000 owned by %d, want 1", o)
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	want := []string{"repoint 0 127.0.0.1:7003", "add 3 127.0.0.1:7006", "remove 2"}
	if fmt.Sprint(tg.log) != fmt.Sprint(want) {
		t.Fatalf("target calls = %v, want %v", tg.log, want)
	}
}

func TestFollowerFailedAddIsRetried(t *testing.T) {
	clk := clock.NewMock()
	d := &scripted{}
	d.set(three(), nil)
	f, err := NewFollower(Config{Seeds: []string{"x:1"}, Discover: d.discover, Seed: 1}, clk)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := f.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tg := &fakeTarget{shards: shards, failAdd: true}
	m := three()
	m.Shards[2].Ranges = []Range{{10923, 16000}}
	m.Shards = append(m.Shards, Shard{MasterID: "gggg", Master: "127.0.0.1:7006", Ranges: []Range{{16001, 16383}}})
	d.set(m, nil)
	if err := f.Refresh(context.Background(), tg); err == nil {
		t.Fatal("a refused add is not reported")
	}
	if _, ok := f.Routes().Owner(16100); ok {
		t.Fatal("routes name a shard the replica refused")
	}
	tg.failAdd = false
	if err := f.Refresh(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	if o, ok := f.Routes().Owner(16100); !ok || o != 4 {
		t.Fatalf("slot 16100 owner = %d,%v; want the new shard 4 (id 3 is never reused)", o, ok)
	}
}

func TestNewFollowerRejectsBadConfig(t *testing.T) {
	if _, err := NewFollower(Config{}, clock.NewMock()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("no seeds: %v", err)
	}
	if _, err := NewFollower(Config{Seeds: []string{"a:1"}}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil clock: %v", err)
	}
}

func TestFollowerAsksMastersThenSeeds(t *testing.T) {
	var asked [][]string
	var mu sync.Mutex
	mastersDown := false
	disc := func(_ context.Context, nodes []string) (Map, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, nodes)
		if mastersDown && nodes[0] != "seed:1" {
			return Map{}, fmt.Errorf("%w: test", ErrUnreachable)
		}
		return three(), nil
	}
	f, err := NewFollower(Config{Seeds: []string{"seed:1"}, Discover: disc, Seed: 1}, clock.NewMock())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	tg := &fakeTarget{shards: map[slot.ID]string{}}
	if err := f.Refresh(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	mastersDown = true
	if err := f.Refresh(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	want := "[[seed:1] [127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002] [127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002] [seed:1]]"
	if got := fmt.Sprint(asked); got != want {
		t.Fatalf("asked %s, want %s", got, want)
	}
}
