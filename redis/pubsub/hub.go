package pubsub

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/replsm/replsm/redis/resp"
	"github.com/replsm/replsm/redis/server"
)

// Options configure New. The zero value is usable.
type Options struct {
	// MaxPending bounds the bytes of messages queued for one subscriber
	// and not yet written; a subscriber over it is disconnected. Zero
	// means 32 MiB (Redis's pubsub hard limit).
	MaxPending int
	// Logger hears of disconnected slow subscribers; nil discards.
	Logger *slog.Logger
}

// Hub is the subscriptions of one server. Its methods are safe for
// concurrent use.
type Hub struct {
	maxPending int
	log        *slog.Logger

	mu       sync.Mutex
	channels map[string]map[*sub]struct{}
	subs     map[*server.Conn]*sub
	closed   bool
	wg       sync.WaitGroup
}

// sub is one subscribed connection: its channels, its queue and the
// goroutine that writes the queue out.
type sub struct {
	c        *server.Conn
	channels map[string]struct{} // guarded by Hub.mu

	qmu     sync.Mutex
	queue   [][2][]byte // channel, payload
	pending int         // bytes queued
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// New returns an empty hub.
func New(opts Options) *Hub {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 32 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		maxPending: opts.MaxPending,
		log:        opts.Logger,
		channels:   map[string]map[*sub]struct{}{},
		subs:       map[*server.Conn]*sub{},
	}
}

// Subscribed reports whether c holds at least one subscription (Redis's
// pub/sub context; CLIENT KILL TYPE pubsub).
func (h *Hub) Subscribed(c *server.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.subs[c]
	return s != nil && len(s.channels) > 0
}

// Command serves the pub/sub part of one request on c and reports whether
// it did. It handles SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE and PUNSUBSCRIBE
// (refused: no patterns) on any connection, and on a subscribed one also
// PING and the refusal of every other command. QUIT never reaches it (the
// server answers it). When handled is false the role serves the request.
func (h *Hub) Command(c *server.Conn, args [][]byte) (handled bool, err error) {
	name := strings.ToLower(string(args[0]))
	switch name {
	case "subscribe":
		if len(args) < 2 {
			return true, c.WriteError(server.WrongArgs(args[0]))
		}
		return true, h.subscribe(c, args[1:])
	case "unsubscribe":
		return true, h.unsubscribe(c, args[1:])
	case "psubscribe", "punsubscribe":
		return true, c.WriteErrorf("ERR %s is not supported by this server: pattern subscriptions are not implemented", strings.ToUpper(name))
	}
	if !h.Subscribed(c) {
		return false, nil
	}
	switch name {
	case "ping":
		// RESP2 in a pub/sub context: a "pong" push with the argument.
		if len(args) > 2 {
			return true, c.WriteError(server.WrongArgs(args[0]))
		}
		var arg []byte
		if len(args) == 2 {
			arg = args[1]
		}
		return true, c.WriteValue(resp.Array(resp.BulkString("pong"), resp.Bulk(arg)))
	case "reset":
		h.drop(c)
		return true, c.WriteSimpleString("RESET")
	}
	return true, c.WriteErrorf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", clip(name))
}

func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

func (h *Hub) subscribe(c *server.Conn, channels [][]byte) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	s := h.subs[c]
	if s == nil {
		s = &sub{c: c, channels: map[string]struct{}{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
		h.subs[c] = s
		h.wg.Add(1)
		go h.deliver(s)
		c.OnClose(func() { h.drop(c) })
	}
	counts := make([]int, len(channels))
	for i, ch := range channels {
		name := string(ch)
		if _, ok := s.channels[name]; !ok {
			s.channels[name] = struct{}{}
			set := h.channels[name]
			if set == nil {
				set = map[*sub]struct{}{}
				h.channels[name] = set
			}
			set[s] = struct{}{}
		}
		counts[i] = len(s.channels)
	}
	h.mu.Unlock()
	for i, ch := range channels {
		if err := c.WriteValue(resp.Array(resp.BulkString("subscribe"), resp.Bulk(ch), resp.Integer(int64(counts[i])))); err != nil {
			return err
		}
	}
	return nil
}

// unsubscribe leaves the channels named, or every channel when none is.
func (h *Hub) unsubscribe(c *server.Conn, channels [][]byte) error {
	h.mu.Lock()
	s := h.subs[c]
	if len(channels) == 0 && s != nil {
		for name := range s.channels {
			channels = append(channels, []byte(name))
		}
	}
	counts := make([]int, len(channels))
	for i, ch := range channels {
		if s != nil {
			h.leaveLocked(s, string(ch))
			counts[i] = len(s.channels)
		}
	}
	h.mu.Unlock()
	if len(channels) == 0 {
		// Redis answers an UNSUBSCRIBE with nothing to leave with one
		// reply whose channel is nil.
		return c.WriteValue(resp.Array(resp.BulkString("unsubscribe"), resp.NullBulk(), resp.Integer(0)))
	}
	for i, ch := range channels {
		if err := c.WriteValue(resp.Array(resp.BulkString("unsubscribe"), resp.Bulk(ch), resp.Integer(int64(counts[i])))); err != nil {
			return err
		}
	}
	return nil
}

func (h *Hub) leaveLocked(s *sub, name string) {
	delete(s.channels, name)
	if set := h.channels[name]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.channels, name)
		}
	}
}

// drop forgets every subscription of c and stops its delivery goroutine.
func (h *Hub) drop(c *server.Conn) {
	h.mu.Lock()
	s := h.subs[c]
	if s != nil {
		for name := range s.channels {
			h.leaveLocked(s, name)
		}
		delete(h.subs, c)
	}
	h.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

func (s *sub) stop() { s.once.Do(func() { close(s.done) }) }

// Publish delivers payload to every subscriber of channel and returns how
// many it was queued for (PUBLISH's reply). It never waits for a
// subscriber.
func (h *Hub) Publish(channel, payload []byte) int {
	h.mu.Lock()
	set := h.channels[string(channel)]
	targets := make([]*sub, 0, len(set))
	for s := range set {
		targets = append(targets, s)
	}
	h.mu.Unlock()
	if len(targets) == 0 {
		return 0
	}
	msg := [2][]byte{append([]byte(nil), channel...), append([]byte(nil), payload...)}
	size := len(channel) + len(payload)
	for _, s := range targets {
		if !s.enqueue(msg, size, h.maxPending) {
			h.log.Warn("pub/sub subscriber too slow; disconnected", "remote", s.c.Remote(), "max_pending", h.maxPending)
			s.c.Kill()
			h.drop(s.c)
		}
	}
	return len(targets)
}

// enqueue queues one message; false when the queue would exceed max.
func (s *sub) enqueue(msg [2][]byte, size, max int) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.pending+size > max {
		return false
	}
	s.queue = append(s.queue, msg)
	s.pending += size
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// deliver writes s's queue to its connection until s is dropped.
func (h *Hub) deliver(s *sub) {
	defer h.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.qmu.Lock()
		batch := s.queue
		s.queue, s.pending = nil, 0
		s.qmu.Unlock()
		err := s.c.Push(func(w *resp.Writer) error {
			for _, m := range batch {
				if err := w.WriteValue(resp.Array(resp.BulkString("message"), resp.Bulk(m[0]), resp.Bulk(m[1]))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.c.Kill()
			go h.drop(s.c)
			<-s.done
			return
		}
	}
}

// Stats are the hub's sizes.
type Stats struct {
	Channels    int // channels with at least one subscriber
	Subscribers int // connections with at least one subscription
}

// Stats returns the hub's sizes.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Channels: len(h.channels), Subscribers: len(h.subs)}
}

// Close drops every subscription and waits for the delivery goroutines.
// Later SUBSCRIBEs fail with ErrClosed. The connections stay open.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	subs := make([]*sub, 0, len(h.subs))
	for _, s := range h.subs {
		subs = append(subs, s)
	}
	h.subs, h.channels = map[*server.Conn]*sub{}, map[string]map[*sub]struct{}{}
	h.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
	h.wg.Wait()
}
