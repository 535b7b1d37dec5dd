package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DialTimeout bounds the proxy's connection attempt to the upstream for one
// accepted connection. When it fails, the accepted connection is closed.
const DialTimeout = 5 * time.Second

// bufferSize is the largest chunk one relay direction holds in memory.
const bufferSize = 32 << 10

var (
	// ErrClosed is returned by [Proxy.Up] and [Proxy.SetUpstream] after
	// [Proxy.Close].
	ErrClosed = errors.New("faultproxy: proxy closed")

	// ErrNotLoopback is returned by [New] and [Proxy.SetUpstream] when the
	// listen or upstream address is not a loopback address (127.0.0.0/8, ::1
	// or "localhost").
	ErrNotLoopback = errors.New("faultproxy: address is not loopback")

	// ErrListen is returned (wrapping the cause) by [New] and [Proxy.Up] when
	// the proxy cannot listen on its address, e.g. another process took the
	// port while the proxy was down.
	ErrListen = errors.New("faultproxy: cannot listen")
)

// Proxy relays TCP connections from a loopback listener to an upstream
// address and injects faults on command. All methods are safe for concurrent
// use.
type Proxy struct {
	addr   string // the listen address, fixed by the first listen
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and connection goroutines

	accepted atomic.Int64

	mu       sync.Mutex
	ln       net.Listener // nil while down or closed
	upstream string
	gate     chan struct{} // closed while flowing, open while stalled
	links    map[*link]struct{}
	closed   bool
}

// New listens on listen (a loopback "host:port"; port 0 picks a free one)
// and returns a running proxy to upstream. It returns [ErrNotLoopback] for a
// non-loopback address and [ErrListen] when it cannot listen.
func New(listen, upstream string) (*Proxy, error) {
	if err := checkLoopback(listen); err != nil {
		return nil, err
	}
	if err := checkLoopback(upstream); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrListen, listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	close(gate)
	p := &Proxy{
		addr:     ln.Addr().String(),
		ctx:      ctx,
		cancel:   cancel,
		ln:       ln,
		upstream: upstream,
		gate:     gate,
		links:    make(map[*link]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

// checkLoopback accepts "host:port" whose host is a loopback IP or
// "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNotLoopback, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
}

// Addr returns the address the proxy listens on, e.g. "127.0.0.1:41234". It
// stays the same across [Proxy.Down] and [Proxy.Up].
func (p *Proxy) Addr() string { return p.addr }

// Upstream returns the address new connections are relayed to.
func (p *Proxy) Upstream() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upstream
}

// SetUpstream makes connections accepted from now on go to addr; current
// connections keep their upstream (call [Proxy.Cut] to move them). It
// returns [ErrNotLoopback] for a non-loopback address and [ErrClosed] after
// [Proxy.Close].
func (p *Proxy) SetUpstream(addr string) error {
	if err := checkLoopback(addr); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.upstream = addr
	return nil
}

// ActiveConns returns the number of client connections the proxy holds
// (accepted and not yet closed).
func (p *Proxy) ActiveConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Accepted returns how many client connections the proxy has accepted since
// [New].
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Cut closes every current connection, both its client and its upstream
// side. New connections are still accepted (unless the proxy is down).
func (p *Proxy) Cut() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Down closes the listener, so that connecting to [Proxy.Addr] is refused,
// and cuts every current connection. Down on a proxy that is down or closed
// does nothing more.
func (p *Proxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.Cut()
}

// Up listens on [Proxy.Addr] again after [Proxy.Down]; on a proxy that is
// up it does nothing. It returns [ErrClosed] after [Proxy.Close] and
// [ErrListen] when the address cannot be bound.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("%w on %s: %w", ErrListen, p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// IsDown reports whether the proxy refuses new connections (after
// [Proxy.Down] or [Proxy.Close]).
func (p *Proxy) IsDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln == nil
}

// Stall stops all traffic: from now on no byte read from either side of any
// connection, current or new, is passed on, and neither is a close. Bytes the
// proxy read before Stall may still be delivered. Nothing is dropped:
// [Proxy.Unstall] delivers everything held, in order. Connections are still
// accepted, and still connected to the upstream, while stalled. Stall on a
// stalled proxy does nothing.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Unstall lets traffic stalled by [Proxy.Stall] flow again. Unstall on a
// flowing proxy does nothing.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// IsStalled reports whether the proxy is stalled.
func (p *Proxy) IsStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		return false
	default:
		return true
	}
}

// Close stops the listener, closes every connection and returns once every
// goroutine the proxy started has ended. Later calls return nil at once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()

	p.cancel()
	if ln != nil {
		_ = ln.Close()
	}
	p.Cut()
	p.wg.Wait()
	return nil
}

// acceptLoop accepts on ln until ln is closed.
func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (e.g. out of file descriptors): pause
			// briefly rather than spin.
			t := time.NewTimer(5 * time.Millisecond)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		p.accepted.Add(1)
		ctx, cancel := context.WithCancel(p.ctx)
		l := &link{p: p, client: c, ctx: ctx, cancel: cancel, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed || p.ln != ln {
			p.mu.Unlock()
			cancel()
			_ = c.Close()
			continue
		}
		p.links[l] = struct{}{}
		upstream := p.upstream
		p.wg.Add(1)
		p.mu.Unlock()
		go l.run(upstream)
	}
}

// waitGate blocks while the proxy is stalled. It returns false when l was
// closed meanwhile.
func (p *Proxy) waitGate(l *link) bool {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	select {
	case <-g:
		return true
	case <-l.done:
		return false
	}
}

// link is one client connection and its upstream connection.
type link struct {
	p      *Proxy
	client net.Conn
	ctx    context.Context // cancelled when the link closes
	cancel context.CancelFunc
	done   chan struct{} // closed when the link closes

	once     sync.Once
	mu       sync.Mutex
	upstream net.Conn // nil until dialled
	eofs     atomic.Int32
}

// run dials the upstream and relays both directions until the link closes.
func (l *link) run(upstream string) {
	defer l.p.wg.Done()
	d := net.Dialer{Timeout: DialTimeout}
	up, err := d.DialContext(l.ctx, "tcp", upstream)
	if err != nil {
		l.close()
		return
	}
	l.mu.Lock()
	select {
	case <-l.done:
		l.mu.Unlock()
		_ = up.Close()
		return
	default:
	}
	l.upstream = up
	l.mu.Unlock()

	var relays sync.WaitGroup
	relays.Add(2)
	go func() { defer relays.Done(); l.relay(l.client, up) }()
	go func() { defer relays.Done(); l.relay(up, l.client) }()
	relays.Wait()
}

// relay copies src to dst, waiting at the proxy's gate after every read so
// that a stall holds both data and end of stream. An EOF is passed on as a
// half-close; the link closes when both directions have ended, or at once on
// any other error.
func (l *link) relay(src, dst net.Conn) {
	buf := make([]byte, bufferSize)
	for {
		n, rerr := src.Read(buf)
		if !l.p.waitGate(l) {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.close()
				return
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil && l.eofs.Add(1) < 2 {
					return
				}
			}
			l.close()
			return
		}
	}
}

// close closes both connections once and forgets the link.
func (l *link) close() {
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		up := l.upstream
		l.mu.Unlock()
		l.cancel()
		_ = l.client.Close()
		if up != nil {
			_ = up.Close()
		}
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}
