package observe

import (
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// Entry is one transition as the status page shows it.
type Entry struct {
	Machine string    `json:"machine"` // "slot" or "instance"
	ID      string    `json:"id"`      // "slot/3", "instance"
	Seq     uint64    `json:"seq"`
	Event   string    `json:"event"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason,omitempty"`
	Line    string    `json:"line"` // the record's stable one-line form
}

func entryOf[S ~string, E ~string](r fsm.Record[S, E]) Entry {
	return Entry{Machine: r.Machine, ID: r.ID, Seq: r.Seq, Event: string(r.Event), From: string(r.From),
		To: string(r.To), Time: r.Time, Reason: r.Reason, Line: r.String()}
}

// Feed keeps the last N transitions of an instance and its slots and hands
// new ones to subscribers. A subscriber that does not keep up misses
// entries (counted in Dropped) rather than slowing the machines down.
//
// Its observers take one mutex shared by all slots, so attach a Feed where
// someone watches (the status page), not on a hot path that must scale.
type Feed struct {
	mu      sync.Mutex
	ring    []Entry
	next    int
	full    bool
	subs    map[chan Entry]struct{}
	dropped uint64
}

// DefaultFeedSize is how many transitions NewFeed keeps when given n <= 0.
const DefaultFeedSize = 100

// NewFeed keeps the last n transitions.
func NewFeed(n int) *Feed {
	if n <= 0 {
		n = DefaultFeedSize
	}
	return &Feed{ring: make([]Entry, n), subs: map[chan Entry]struct{}{}}
}

// SlotObserver feeds shard records; put it in slot.Options.Observers.
func (f *Feed) SlotObserver() slot.Observer { return func(r slot.Record) { f.add(entryOf(r)) } }

// InstanceObserver feeds instance records; put it in replica.Options.Observers.
func (f *Feed) InstanceObserver() func(replica.Record) {
	return func(r replica.Record) { f.add(entryOf(r)) }
}

func (f *Feed) add(e Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring[f.next] = e
	f.next++
	if f.next == len(f.ring) {
		f.next, f.full = 0, true
	}
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
			f.dropped++
		}
	}
}

// Recent returns the kept transitions, oldest first.
func (f *Feed) Recent() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.full {
		return append([]Entry(nil), f.ring[:f.next]...)
	}
	out := make([]Entry, 0, len(f.ring))
	out = append(out, f.ring[f.next:]...)
	return append(out, f.ring[:f.next]...)
}

// Subscribe returns a channel of new transitions (buffered to buf, at
// least 1) and the function that ends the subscription and closes it.
func (f *Feed) Subscribe(buf int) (<-chan Entry, func()) {
	ch := make(chan Entry, max(buf, 1))
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, ch)
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Dropped counts entries a slow subscriber missed.
func (f *Feed) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}
