package faultproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// checkLeaks makes the test fail if a goroutine it started outlives it
// (goroutines that existed before are ignored; goleak retries for a while
// before it reports). Register it first: cleanups run last-in first-out, so
// it runs after every other one.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// waitLimit bounds every wait for something that should happen: generous,
// so a busy machine makes a test slower, never red. (Checks that nothing
// happens use their own short windows.)
const waitLimit = 30 * time.Second

// eventually polls cond every 5 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		case <-tick.C:
		}
	}
}

// echoServer greets every connection with its name and a newline, then
// echoes every byte back. It counts the bytes and EOFs it receives.
type echoServer struct {
	name     string
	ln       net.Listener
	wg       sync.WaitGroup
	received atomic.Int64
	eofs     atomic.Int64
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func newEcho(t *testing.T, name string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := &echoServer{name: name, ln: ln, conns: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go e.serve()
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

func (e *echoServer) serve() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.conns[c] = struct{}{}
		e.mu.Unlock()
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer func() {
				e.mu.Lock()
				delete(e.conns, c)
				e.mu.Unlock()
				_ = c.Close()
			}()
			if _, err := io.WriteString(c, e.name+"\n"); err != nil {
				return
			}
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				e.received.Add(int64(n))
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					if errors.Is(err, io.EOF) {
						e.eofs.Add(1)
					}
					return
				}
			}
		}()
	}
}

func (e *echoServer) close() {
	_ = e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		_ = c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func newProxy(t *testing.T, upstream string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", upstream)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// client is one connection through the proxy, past the greeting.
type client struct {
	net.Conn
	r        *bufio.Reader
	greeting string
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	cl := &client{Conn: c, r: bufio.NewReader(c)}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitLimit)))
	g, err := cl.r.ReadString('\n')
	require.NoError(t, err, "greeting")
	cl.greeting = g[:len(g)-1]
	return cl
}

// roundTrip writes msg and reads it back within waitLimit.
func (c *client) roundTrip(msg []byte) ([]byte, error) {
	if err := c.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, len(msg))
	_, rerr := io.ReadFull(c.r, got)
	if werr := <-errc; werr != nil {
		return nil, werr
	}
	return got, rerr
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// expectSilence asserts that nothing can be read from c for d.
func expectSilence(t *testing.T, c *client, d time.Duration) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(d)))
	var b [1]byte
	n, err := c.r.Read(b[:])
	require.Zero(t, n, "a byte passed a stalled proxy")
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}

// expectClosed asserts that c is closed by its peer within waitLimit.
func expectClosed(t *testing.T, c *client) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitLimit)))
	_, err := io.Copy(io.Discard, c.r)
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "connection not closed")
}

func TestRelayEchoesManyConnections(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	assert.Equal(t, e.addr(), p.Upstream())

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		c := dial(t, p.Addr())
		require.Equal(t, "A", c.greeting)
		msg := randomBytes(t, 512<<10)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.roundTrip(msg)
			if err == nil && !bytes.Equal(got, msg) {
				err = errors.New("echo differs")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 4, p.ActiveConns())
	assert.EqualValues(t, 4, p.Accepted())
}

func TestHalfCloseIsRelayed(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	_, err := c.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, c.Conn.(*net.TCPConn).CloseWrite())
	// The echo server sees EOF, echoes what it had and closes: we read it
	// all and then EOF.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(waitLimit)))
	rest, err := io.ReadAll(c.r)
	require.NoError(t, err)
	assert.Equal(t, "bye", string(rest))
	eventually(t, waitLimit, "link released", func() error {
		if n := p.ActiveConns(); n != 0 {
			return fmt.Errorf("%d active", n)
		}
		return nil
	})
}

func TestCutClosesCurrentKeepsAccepting(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())

	p.Cut()
	expectClosed(t, c1)
	expectClosed(t, c2)
	eventually(t, waitLimit, "no active link", func() error {
		if n := p.ActiveConns(); n != 0 {
			return fmt.Errorf("%d active", n)
		}
		return nil
	})

	c3 := dial(t, p.Addr())
	got, err := c3.roundTrip([]byte("again"))
	require.NoError(t, err)
	assert.Equal(t, "again", string(got))
}

func TestDownRefusesAndUpAccepts(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	addr := p.Addr()
	c := dial(t, addr)

	p.Down()
	assert.True(t, p.IsDown())
	expectClosed(t, c)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	p.Down() // idempotent

	require.NoError(t, p.Up())
	require.NoError(t, p.Up()) // idempotent
	assert.False(t, p.IsDown())
	assert.Equal(t, addr, p.Addr())
	c2 := dial(t, addr)
	got, err := c2.roundTrip([]byte("back"))
	require.NoError(t, err)
	assert.Equal(t, "back", string(got))
}

func TestStallHoldsBytesWithoutLoss(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	got, err := c.roundTrip([]byte("warm"))
	require.NoError(t, err)
	require.Equal(t, "warm", string(got))
	before := e.received.Load()

	p.Stall()
	p.Stall() // idempotent
	assert.True(t, p.IsStalled())
	_, err = c.Write([]byte("held"))
	require.NoError(t, err)
	expectSilence(t, c, 200*time.Millisecond)
	assert.Equal(t, before, e.received.Load(), "upstream received bytes while stalled")
	assert.Equal(t, 1, p.ActiveConns(), "a stall keeps the connection")

	// More than the socket buffers hold: the writer feels back-pressure,
	// nothing is dropped.
	bulk := randomBytes(t, 8<<20)
	wrote := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(bulk)
		wrote <- err
	}()
	expectSilence(t, c, 100*time.Millisecond)

	p.Unstall()
	p.Unstall() // idempotent
	assert.False(t, p.IsStalled())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	want := append([]byte("held"), bulk...)
	back := make([]byte, len(want))
	_, err = io.ReadFull(c.r, back)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	assert.True(t, bytes.Equal(want, back), "bytes lost or reordered across a stall")
}

func TestStallHoldsCloseAndNewConnections(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())

	p.Stall()
	require.NoError(t, c.Conn.(*net.TCPConn).CloseWrite())

	// A new connection is accepted and connected, but even its greeting
	// is held.
	raw, err := net.DialTimeout("tcp", p.Addr(), waitLimit)
	require.NoError(t, err)
	defer raw.Close()
	fresh := &client{Conn: raw, r: bufio.NewReader(raw)}
	expectSilence(t, fresh, 200*time.Millisecond)
	assert.Zero(t, e.eofs.Load(), "the client's close passed a stalled proxy")
	eventually(t, waitLimit, "new connection registered", func() error {
		if n := p.ActiveConns(); n != 2 {
			return fmt.Errorf("%d active", n)
		}
		return nil
	})

	p.Unstall()
	eventually(t, waitLimit, "upstream sees the held EOF", func() error {
		if e.eofs.Load() != 1 {
			return errors.New("no EOF yet")
		}
		return nil
	})
	require.NoError(t, fresh.SetReadDeadline(time.Now().Add(waitLimit)))
	g, err := fresh.r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "A\n", g)
}

func TestCutWhileStalled(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	p.Stall()
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	p.Cut()
	expectClosed(t, c)
	p.Unstall()
	got, err := dial(t, p.Addr()).roundTrip([]byte("ok"))
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
}

func TestSetUpstreamAffectsNewConnections(t *testing.T) {
	checkLeaks(t)
	a, b := newEcho(t, "A"), newEcho(t, "B")
	p := newProxy(t, a.addr())
	c1 := dial(t, p.Addr())
	require.Equal(t, "A", c1.greeting)

	require.NoError(t, p.SetUpstream(b.addr()))
	assert.Equal(t, b.addr(), p.Upstream())
	c2 := dial(t, p.Addr())
	assert.Equal(t, "B", c2.greeting)
	got, err := c1.roundTrip([]byte("still A"))
	require.NoError(t, err)
	assert.Equal(t, "still A", string(got))

	require.ErrorIs(t, p.SetUpstream("192.0.2.1:6379"), ErrNotLoopback)
	require.ErrorIs(t, p.SetUpstream("no-port"), ErrNotLoopback)
	assert.Equal(t, b.addr(), p.Upstream())
}

func TestUnreachableUpstreamClosesClient(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())

	p := newProxy(t, dead)
	c, err := net.DialTimeout("tcp", p.Addr(), waitLimit)
	require.NoError(t, err, "the proxy accepts even when its upstream is gone")
	defer c.Close()
	expectClosed(t, &client{Conn: c, r: bufio.NewReader(c)})
}

func TestNewValidates(t *testing.T) {
	checkLeaks(t)
	for _, pair := range [][2]string{
		{"0.0.0.0:0", "127.0.0.1:1"},
		{"192.0.2.1:0", "127.0.0.1:1"},
		{"127.0.0.1:0", "192.0.2.1:1"},
		{"127.0.0.1", "127.0.0.1:1"},
	} {
		_, err := New(pair[0], pair[1])
		assert.ErrorIs(t, err, ErrNotLoopback, "%v", pair)
	}
	p := newProxy(t, "localhost:1")
	_, err := New(p.Addr(), "127.0.0.1:1")
	assert.ErrorIs(t, err, ErrListen)
}

func TestCloseStopsEverything(t *testing.T) {
	checkLeaks(t)
	e := newEcho(t, "A")
	p, err := New("127.0.0.1:0", e.addr())
	require.NoError(t, err)
	c1 := dial(t, p.Addr())
	c2 := dial(t, p.Addr())
	p.Stall()
	_, err = c2.Write([]byte("held"))
	require.NoError(t, err)

	require.NoError(t, p.Close())
	expectClosed(t, c1)
	expectClosed(t, c2)
	assert.Zero(t, p.ActiveConns())
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.NoError(t, p.Close())
	assert.ErrorIs(t, p.Up(), ErrClosed)
	assert.ErrorIs(t, p.SetUpstream(e.addr()), ErrClosed)
	p.Cut()
	p.Down()
	p.Stall()
	p.Unstall()
	assert.True(t, p.IsDown())
}

func TestCloseWithSilentUpstream(t *testing.T) {
	checkLeaks(t)
	// An upstream that never calls Accept: the kernel completes the TCP
	// handshake, the link then waits on reads forever. Close must end it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	p, err := New("127.0.0.1:0", ln.Addr().String())
	require.NoError(t, err)
	c, err := net.DialTimeout("tcp", p.Addr(), waitLimit)
	require.NoError(t, err)
	defer c.Close()
	eventually(t, waitLimit, "link registered", func() error {
		if p.ActiveConns() != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	require.NoError(t, p.Close())
}

// TestConcurrentFaults hammers every operation at once, bounded in count and
// time, for the race detector and the leak check.
func TestConcurrentFaults(t *testing.T) {
	checkLeaks(t)
	a, b := newEcho(t, "A"), newEcho(t, "B")
	p := newProxy(t, a.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
	defer cancel()

	var wg sync.WaitGroup
	var okTrips atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100 && ctx.Err() == nil; i++ {
				c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
				if err != nil {
					continue // down
				}
				_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
				r := bufio.NewReader(c)
				if _, err := r.ReadString('\n'); err == nil {
					msg := []byte(fmt.Sprintf("m%d", i))
					if _, err := c.Write(msg); err == nil {
						got := make([]byte, len(msg))
						if _, err := io.ReadFull(r, got); err == nil && bytes.Equal(got, msg) {
							okTrips.Add(1)
						}
					}
				}
				_ = c.Close()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ups := []string{a.addr(), b.addr()}
		for i := 0; i < 300 && ctx.Err() == nil; i++ {
			n, _ := rand.Int(rand.Reader, big.NewInt(6))
			switch n.Int64() {
			case 0:
				p.Cut()
			case 1:
				p.Stall()
			case 2:
				p.Unstall()
			case 3:
				_ = p.SetUpstream(ups[i%2])
			case 4:
				p.Down()
			case 5:
				_ = p.Up()
			}
			_ = p.ActiveConns()
			_ = p.IsStalled()
		}
		p.Unstall()
		_ = p.Up()
	}()
	wg.Wait()
	require.NoError(t, ctx.Err(), "the bounded load overran its time budget")
	got, err := dial(t, p.Addr()).roundTrip([]byte("final"))
	require.NoError(t, err)
	assert.Equal(t, "final", string(got))
	t.Logf("%d successful round trips, %d accepted", okTrips.Load(), p.Accepted())
}
