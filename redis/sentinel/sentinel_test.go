package sentinel_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/redis/sentinel"
	"github.com/replsm/replsm/redis/sentinel/sentineltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fake(t *testing.T) *sentineltest.Fake {
	f, err := sentineltest.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

type events struct {
	mu  sync.Mutex
	all []sentinel.Event
}

func (e *events) add(ev sentinel.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) find(k sentinel.Kind) []sentinel.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []sentinel.Event
	for _, ev := range e.all {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	redistest.RequireEventually(t, 30*time.Second, what, func(context.Context) error { return cond() })
}

// TestResolveAsksInTurn: a dead sentinel and one that does not know the
// name are passed over; the first answer wins and names its sentinel.
func TestResolveAsksInTurn(t *testing.T) {
	unknown, good := fake(t), fake(t)
	good.SetMaster("m", "127.0.0.1:7001")
	dead := "127.0.0.1:1" // nothing listens on port 1
	addr, from, err := sentinel.Resolve(context.Background(), clock.New(), []string{dead, unknown.Addr(), good.Addr()}, "m", time.Second)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7001", addr)
	assert.Equal(t, good.Addr(), from)

	_, _, err = sentinel.Resolve(context.Background(), clock.New(), []string{dead, unknown.Addr()}, "m", time.Second)
	assert.True(t, errors.Is(err, sentinel.ErrNoAnswer), "%v", err)
	assert.True(t, errors.Is(err, sentinel.ErrUnknownMaster), "%v", err)
}

// TestWatcherEventsAndReconnect: the watcher answers on link-up, delivers
// the watched name's events (others ignored, nonsense logged), and comes
// back after the sentinel drops the link.
func TestWatcherEventsAndReconnect(t *testing.T) {
	f := fake(t)
	f.SetMaster("m", "127.0.0.1:7001")
	var got events
	w, err := sentinel.NewWatcher(sentinel.Config{
		Sentinels: []string{f.Addr()}, Masters: []string{"m"}, OnEvent: got.add,
		PingInterval: 200 * time.Millisecond, PollInterval: time.Hour, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}, clock.New())
	require.NoError(t, err)
	w.Start()
	defer w.Close()
	waitFor(t, "an answer on link-up", func() error {
		if len(got.find(sentinel.Answer)) == 0 {
			return errors.New("no answer yet")
		}
		return nil
	})
	a := got.find(sentinel.Answer)[0]
	assert.Equal(t, sentinel.Event{Sentinel: f.Addr(), Kind: sentinel.Answer, Master: "m", New: "127.0.0.1:7001"}, a)

	f.Publish("+switch-master", "other 127.0.0.1 1 127.0.0.1 2") // not watched
	f.Publish("+switch-master", "m 127.0.0.1 notaport")          // nonsense
	f.Publish("+try-failover", "master m 127.0.0.1 7001")
	f.Publish("+switch-master", "m 127.0.0.1 7001 127.0.0.1 7002")
	waitFor(t, "the switch", func() error {
		if len(got.find(sentinel.SwitchMaster)) == 0 {
			return errors.New("no switch yet")
		}
		return nil
	})
	sw := got.find(sentinel.SwitchMaster)
	require.Len(t, sw, 1)
	assert.Equal(t, "127.0.0.1:7001", sw[0].Old)
	assert.Equal(t, "127.0.0.1:7002", sw[0].New)
	assert.Contains(t, sw[0].String(), "sentinel "+f.Addr()+" announced +switch-master m 127.0.0.1 7001 127.0.0.1 7002")
	require.Len(t, got.find(sentinel.TryFailover), 1)

	before := w.Links()[0].Connects
	f.DropLinks()
	waitFor(t, "the link back", func() error {
		l := w.Links()[0]
		if !l.Up || l.Connects <= before {
			return errors.New("link not back")
		}
		return nil
	})
	assert.NotEmpty(t, w.Links()[0].LastError)
	waitFor(t, "a second answer after the reconnect", func() error {
		if len(got.find(sentinel.Answer)) < 2 {
			return errors.New("no second answer")
		}
		return nil
	})
}

// TestWatcherSilentSentinelIsDropped: a sentinel that stops answering
// PINGs (here: a listener that accepts and never speaks) is dropped and
// retried, on the mock clock.
func TestWatcherSilentSentinelIsDropped(t *testing.T) {
	silent := silentListener(t)
	mock := clock.NewMock()
	w, err := sentinel.NewWatcher(sentinel.Config{
		Sentinels: []string{silent}, Masters: []string{"m"}, OnEvent: func(sentinel.Event) {},
		DialTimeout: time.Second, MinBackoff: time.Second,
	}, mock)
	require.NoError(t, err)
	w.Start()
	defer w.Close()
	waitFor(t, "the unconfirmed link dropped", func() error {
		mock.Add(500 * time.Millisecond)
		if w.Links()[0].LastError == "" {
			return errors.New("still waiting")
		}
		return nil
	})
	assert.Contains(t, w.Links()[0].LastError, "did not confirm SUBSCRIBE")
}

func TestNewWatcherRejects(t *testing.T) {
	ok := func(sentinel.Event) {}
	for _, c := range []sentinel.Config{
		{Masters: []string{"m"}, OnEvent: ok},
		{Sentinels: []string{"nope"}, Masters: []string{"m"}, OnEvent: ok},
		{Sentinels: []string{"127.0.0.1:0"}, Masters: []string{"m"}, OnEvent: ok},
		{Sentinels: []string{"127.0.0.1:1"}, OnEvent: ok},
		{Sentinels: []string{"127.0.0.1:1"}, Masters: []string{"a b"}, OnEvent: ok},
		{Sentinels: []string{"127.0.0.1:1"}, Masters: []string{"m"}},
		{Sentinels: []string{"127.0.0.1:1"}, Masters: []string{"m"}, OnEvent: ok, PingInterval: -1},
	} {
		_, err := sentinel.NewWatcher(c, clock.New())
		assert.True(t, errors.Is(err, sentinel.ErrInvalidConfig), "%+v: %v", c, err)
	}
}

// silentListener accepts connections and never writes to them.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}
