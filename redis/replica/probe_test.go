package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/slot"
)

// TestSessionBusyReplies: a primary that answers "not now" to the
// handshake is asked again after BusyPoll, spending no budget: with a cap
// of 1, three busy answers in a row neither fail nor exhaust the shard,
// and the fourth handshake syncs.
func TestSessionBusyReplies(t *testing.T) {
	tests := []struct {
		name  string
		ping  string // PING reply; "" for +PONG
		psync string // PSYNC reply when PING was answered +PONG
		want  string // in the busy record's reason
	}{
		{"ping loading", "-LOADING Redis is loading the dataset in memory\r\n", "", "PING: -LOADING Redis is loading"},
		{"psync loading", "", "-LOADING Redis is loading the dataset in memory\r\n", "PSYNC: -LOADING"},
		{"psync masterdown", "", "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n", "PSYNC: -MASTERDOWN"},
		{"psync nomasterlink", "", "-NOMASTERLINK Can't SYNC while not connected with my master\r\n", "PSYNC: -NOMASTERLINK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePrimary(t)
			log := &recordLog{}
			cfg := fakeConfig(t, f.addr(), log)
			cfg.SlotConfig.RecoveryCap = 1
			cfg.SlotConfig.BusyPoll = 50 * time.Millisecond
			r := startReplica(t, cfg)
			const rounds = 3
			for i := 0; i < rounds; i++ {
				fc := f.next()
				fc.expect("PING")
				if tt.ping != "" {
					fc.send(tt.ping)
				} else {
					fc.send("+PONG\r\n")
					fc.read()
					fc.send("+OK\r\n")
					fc.read()
					fc.send("+OK\r\n")
					fc.read()
					fc.send(tt.psync)
				}
				assert.True(t, fc.eof(), "the busy session's connection is closed")
			}
			fc := f.next()
			fc.handshake()
			fc.send("+FULLRESYNC " + replID1 + " 0\r\n" + payload(emptyRDB))
			waitState(t, r, 0, slot.Connected, 10*time.Second)

			busy := append(log.find(0, slot.EvBusy), log.find(0, slot.EvBusyFull)...)
			require.Len(t, busy, rounds)
			assert.Contains(t, busy[0].Reason, tt.want)
			assert.Empty(t, log.find(0, slot.EvFail), "busy is not failed")
			st := slotStatus(t, r, 0)
			assert.Equal(t, uint64(rounds), st.Stats.BusyRetries)
			assert.Zero(t, st.Stats.Exhaustions)
			assert.Zero(t, st.Stats.Failures)
		})
	}
}

// answerServer accepts connections and answers the first line of each with
// reply ("" for silence), then keeps the connection until the peer closes
// it, noting that it did.
type answerServer struct {
	ln     net.Listener
	reply  string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	closed chan struct{} // one value per connection the peer closed
}

func newAnswerServer(t *testing.T, reply string) *answerServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &answerServer{ln: ln, reply: reply, closed: make(chan struct{}, 16)}
	a.wg.Add(1)
	go a.serve()
	t.Cleanup(a.close)
	return a
}

func (a *answerServer) addr() string { return a.ln.Addr().String() }

func (a *answerServer) serve() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.conns = append(a.conns, c)
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			buf := make([]byte, 64)
			if _, err := c.Read(buf); err == nil && a.reply != "" {
				_, _ = io.WriteString(c, a.reply)
			}
			for {
				if _, err := c.Read(buf); err != nil {
					a.closed <- struct{}{}
					return
				}
			}
		}()
	}
}

func (a *answerServer) close() {
	_ = a.ln.Close()
	a.mu.Lock()
	for _, c := range a.conns {
		_ = c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// newProbeReplica is a Replica that is never started: its probe needs only
// its config and clock.
func newProbeReplica(t *testing.T, ep string, clk clock.Clock) *Replica {
	cfg := testConfig(t, map[slot.ID]string{0: ep})
	r, err := New(cfg, clk)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestProbeAnswers: any reply is an answer (an error reply too: something
// listens and speaks); refusal and silence are not.
func TestProbeAnswers(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	for _, tt := range []struct {
		name, reply string
	}{
		{"pong", "+PONG\r\n"},
		{"loading", "-LOADING Redis is loading the dataset in memory\r\n"},
		{"noauth", "-NOAUTH Authentication required.\r\n"},
		{"keepalives then pong", "\n\n+PONG\r\n"},
		{"not resp", "HTTP/1.1 400 Bad Request\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAnswerServer(t, tt.reply)
			r := newProbeReplica(t, a.addr(), clock.New())
			assert.NoError(t, r.probe(ctx, a.addr()))
		})
	}
	t.Run("refused", func(t *testing.T) {
		ep := refusedAddr(t)
		r := newProbeReplica(t, ep, clock.New())
		err := r.probe(ctx, ep)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refused")
	})
	t.Run("silent", func(t *testing.T) {
		a := newAnswerServer(t, "")
		r := newProbeReplica(t, a.addr(), clock.New())
		err := r.probe(ctx, a.addr())
		require.ErrorIs(t, err, errNoAnswer)
		assert.Contains(t, err.Error(), "in "+maxProbeTimeout.String())
	})
}

// TestProbeOneInFlightAndClose: a shard's new probe cancels the one in
// flight, and Close cancels the last and waits for it. The probe timer is
// on a mock clock that never moves, so only cancellation ends them.
func TestProbeOneInFlightAndClose(t *testing.T) {
	a := newAnswerServer(t, "")
	r := newProbeReplica(t, a.addr(), clock.NewMock())
	d := r.SlotDriver().(slot.Prober)
	d.Probe(slot.ProbeRequest{Slot: 0, Endpoint: a.addr(), Probe: 1001})
	redistest.RequireEventually(t, 10*time.Second, "first probe connected", func(context.Context) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if len(a.conns) < 1 {
			return errors.New("no connection yet")
		}
		return nil
	})
	d.Probe(slot.ProbeRequest{Slot: 0, Endpoint: a.addr(), Probe: 1002})
	select {
	case <-a.closed: // the first probe's connection
	case <-time.After(10 * time.Second):
		t.Fatal("the superseded probe kept its connection")
	}
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the probe in flight")
	}
	// After Close a probe is not started at all.
	d.Probe(slot.ProbeRequest{Slot: 0, Endpoint: a.addr(), Probe: 1003})
	d.Probe(slot.ProbeRequest{Slot: 7, Endpoint: a.addr(), Probe: 1004}) // unknown shard: ignored
	a.mu.Lock()
	n := len(a.conns)
	a.mu.Unlock()
	assert.LessOrEqual(t, n, 2, fmt.Sprintf("%d connections", n))
}
