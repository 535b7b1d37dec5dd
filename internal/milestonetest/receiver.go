// Package milestonetest is an HTTP milestone receiver for tests: an
// httptest server on 127.0.0.1 that accepts what outbox.HTTPSink posts,
// dedupes by the Idempotency-Key header as a real receiver must, records
// every attempt, and can be switched down (503) and up again.
package milestonetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/replsm/replsm/store"
)

// Attempt is one POST the receiver got.
type Attempt struct {
	At     time.Time // arrival, wall clock
	Key    string    // Idempotency-Key header
	Seq    uint64
	Kind   string
	Status int // what the receiver answered
}

// Receiver is the test receiver. Its methods are safe for concurrent use.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	attempts []Attempt
	unique   []store.Milestone // first delivery of each key, in arrival order
	count    map[string]int    // accepted deliveries per key
}

// New starts a receiver that is up; t's cleanup closes it.
func New(t testing.TB) *Receiver {
	r := &Receiver{count: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is where to post milestones.
func (r *Receiver) URL() string { return r.srv.URL }

// SetDown makes the receiver answer 503 (true) or accept again (false).
func (r *Receiver) SetDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	var m store.Milestone
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	key := req.Header.Get("Idempotency-Key")
	r.mu.Lock()
	defer r.mu.Unlock()
	a := Attempt{At: time.Now(), Key: key, Seq: m.Seq, Kind: m.Kind}
	switch {
	case req.Method != http.MethodPost || err != nil || key == "" || key != m.Key:
		a.Status = http.StatusBadRequest
	case r.down:
		a.Status = http.StatusServiceUnavailable
	default:
		a.Status = http.StatusOK
		if r.count[key] == 0 {
			r.unique = append(r.unique, m)
		}
		r.count[key]++
	}
	r.attempts = append(r.attempts, a)
	w.WriteHeader(a.Status)
	fmt.Fprintln(w, http.StatusText(a.Status))
}

// Attempts returns every POST so far, in arrival order.
func (r *Receiver) Attempts() []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts)
}

// Unique returns the milestones accepted, each key once (its first
// delivery), in arrival order: what an idempotent receiver acts on.
func (r *Receiver) Unique() []store.Milestone {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.unique)
}

// Deliveries returns how often key was accepted (more than once when a
// crash came between delivery and ack).
func (r *Receiver) Deliveries(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[key]
}

// Accepted returns the total of accepted deliveries, duplicates included.
func (r *Receiver) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.count {
		n += c
	}
	return n
}
