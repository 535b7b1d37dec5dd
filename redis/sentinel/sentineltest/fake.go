// Package sentineltest is a scripted Redis Sentinel for tests: it speaks
// the part of Sentinel's protocol a follower uses (SUBSCRIBE, PSUBSCRIBE,
// PING, SENTINEL GET-MASTER-ADDR-BY-NAME) and publishes whatever the test
// tells it to, including announcements a real sentinel would never send
// (real sentinels refuse PUBLISH on their event channels).
package sentineltest

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/replsm/replsm/redis/resp"
)

// Fake is a scripted sentinel on 127.0.0.1.
type Fake struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	masters map[string]string // name -> host:port
	subs    map[net.Conn]bool // connections that subscribed
	conns   map[net.Conn]bool
	asked   int
	closed  bool
}

// Start listens on a free loopback port. Close stops it.
func Start() (*Fake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Fake{ln: ln, masters: map[string]string{}, subs: map[net.Conn]bool{}, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Addr is the fake's "host:port".
func (f *Fake) Addr() string { return f.ln.Addr().String() }

// SetMaster sets what GET-MASTER-ADDR-BY-NAME answers for name ("" for
// the null reply).
func (f *Fake) SetMaster(name, addr string) {
	f.mu.Lock()
	f.masters[name] = addr
	f.mu.Unlock()
}

// Subscribers is how many connections are subscribed now.
func (f *Fake) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Asked counts GET-MASTER-ADDR-BY-NAME questions answered.
func (f *Fake) Asked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked
}

// Publish sends a message on channel to every subscriber and returns how
// many got it.
func (f *Fake) Publish(channel, payload string) int {
	msg := resp.AppendArrayHeader(nil, 3)
	for _, s := range []string{"message", channel, payload} {
		msg = resp.AppendBulkString(msg, s)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for c := range f.subs {
		if _, err := c.Write(msg); err == nil {
			n++
		}
	}
	return n
}

// DropLinks closes every connection (the follower must reconnect).
func (f *Fake) DropLinks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
	}
}

// Close stops listening, closes every connection and waits.
func (f *Fake) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	err := f.ln.Close()
	f.DropLinks()
	f.wg.Wait()
	return err
}

func (f *Fake) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			_ = c.Close()
			return
		}
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *Fake) serve(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		delete(f.subs, c)
		f.mu.Unlock()
		_ = c.Close()
	}()
	rd := resp.NewReader(bufio.NewReader(c))
	subscribed := 0
	for {
		args, _, err := rd.ReadCommand()
		if err != nil {
			return
		}
		if len(args) == 0 {
			continue
		}
		var out []byte
		switch cmd := strings.ToLower(string(args[0])); cmd {
		case "subscribe", "psubscribe":
			for _, ch := range args[1:] {
				subscribed++
				out = resp.AppendArrayHeader(out, 3)
				out = resp.AppendBulkString(out, cmd)
				out = resp.AppendBulkString(out, string(ch))
				out = resp.AppendInteger(out, int64(subscribed))
			}
		case "ping":
			if subscribed > 0 {
				out = resp.AppendArrayHeader(out, 2)
				out = resp.AppendBulkString(out, "pong")
				out = resp.AppendBulkString(out, "")
			} else {
				out = resp.AppendSimpleString(out, "PONG")
			}
		case "sentinel":
			if len(args) == 3 && strings.EqualFold(string(args[1]), "get-master-addr-by-name") {
				f.mu.Lock()
				addr := f.masters[string(args[2])]
				f.asked++
				f.mu.Unlock()
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					out = resp.AppendNullArray(out)
					break
				}
				out = resp.AppendArrayHeader(out, 2)
				out = resp.AppendBulkString(out, host)
				out = resp.AppendBulkString(out, port)
				break
			}
			out = resp.AppendError(out, "ERR unknown sentinel subcommand")
		default:
			out = resp.AppendError(out, "ERR unknown command '"+strconv.Quote(string(args[0]))+"'")
		}
		f.mu.Lock()
		if subscribed > 0 {
			f.subs[c] = true
		}
		_, err = c.Write(out)
		f.mu.Unlock()
		if err != nil {
			return
		}
	}
}
