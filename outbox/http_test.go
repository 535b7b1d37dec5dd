package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/store"
)

// dedupReceiver is an idempotent receiver: it keeps the first copy of each
// Idempotency-Key and answers 200 to duplicates. With loseFirstAnswer it
// stores a new key but answers 500, as if the answer were lost on the way.
type dedupReceiver struct {
	mu              sync.Mutex
	posts           int
	seen            map[string]bool
	order           []string
	loseFirstAnswer bool
	bad             []string
}

func (d *dedupReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	var m store.Milestone
	err := json.NewDecoder(r.Body).Decode(&m)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.posts++
	if r.Method != http.MethodPost || key == "" || err != nil || m.Key != key ||
		r.Header.Get("Content-Type") != "application/json" {
		d.bad = append(d.bad, key)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if d.seen[key] {
		w.WriteHeader(http.StatusOK) // duplicate: already have it
		return
	}
	d.seen[key] = true
	d.order = append(d.order, key)
	if d.loseFirstAnswer {
		http.Error(w, "answer lost", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (d *dedupReceiver) snapshot() (posts int, order []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.posts, append([]string(nil), d.order...)
}

func TestIdempotentReceiverSeesEachKeyOnce(t *testing.T) {
	recv := &dedupReceiver{seen: map[string]bool{}, loseFirstAnswer: true}
	srv := httptest.NewServer(recv) // listens on 127.0.0.1
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"))
	sink, err := NewHTTPSink(srv.URL+"/milestones", srv.Client())
	require.NoError(t, err)

	path := filepath.Join(t.TempDir(), "state.db")
	clk := clock.NewMock()
	ctx := context.Background()

	// Run 1: every first answer is lost, so each milestone is retried; then
	// the process dies before acking the retried batch.
	st := openBolt(t, path)
	cs := &crashOnAck{Store: st}
	ob, err := New(cs, sink, clk, Config{Backoff: noJitter, BreakerFailures: 100})
	require.NoError(t, err)
	appendN(t, ob, 0, 6)
	var wantKeys []string
	for i := range 6 {
		wantKeys = append(wantKeys, milestone(i).Key)
	}
	var sawLost bool
	for ob.Stats().Pending > 3 {
		_, err = ob.DeliverPending(ctx)
		var se *StatusError
		if errors.As(err, &se) {
			sawLost = true
			assert.Equal(t, http.StatusInternalServerError, se.StatusCode)
			assert.Contains(t, err.Error(), "answer lost")
		}
		clk.Add(time.Second)
	}
	assert.True(t, sawLost)
	// The answers get through now, but the process dies before the ack
	// of milestones 4..6 commits.
	recv.mu.Lock()
	recv.loseFirstAnswer = false
	recv.mu.Unlock()
	cs.crash = true
	n, err := ob.DeliverPending(ctx)
	require.ErrorIs(t, err, errCrash)
	assert.Equal(t, 3, n)
	require.NoError(t, st.Close())

	// Run 2: replay after the restart.
	st = openBolt(t, path)
	defer st.Close()
	ob, err = New(st, sink, clk, Config{Backoff: noJitter})
	require.NoError(t, err)
	assert.Equal(t, 3, ob.Stats().Pending)
	n, err = ob.DeliverPending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "4..6 delivered again after the restart")

	posts, order := recv.snapshot()
	assert.Equal(t, wantKeys, order, "each key exactly once, in creation order")
	assert.Greater(t, posts, len(wantKeys), "the receiver did get duplicates")
	assert.Empty(t, recv.bad)
	t.Logf("%d POSTs for %d milestones", posts, len(wantKeys))
}

func TestHTTPSinkStatusHandling(t *testing.T) {
	var gotBody map[string]any
	var gotHeader http.Header
	mux := http.NewServeMux()
	for _, code := range []int{200, 201, 202, 204, 400, 404, 409, 500, 503} {
		mux.HandleFunc("/"+strconv.Itoa(code), func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(body, &gotBody)
			gotHeader = r.Header.Clone()
			if code >= 300 {
				http.Error(w, "reason: "+http.StatusText(code), code)
				return
			}
			w.WriteHeader(code)
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	m := store.Milestone{Seq: 9, Key: "slot/3/full_sync_completed/session/7", Kind: "full_sync_completed",
		Slot: "slot/3", At: time.Unix(1700000000, 0).UTC(), Attrs: map[string]string{"session": "7"}}
	for _, tc := range []struct {
		code int
		ok   bool
	}{{200, true}, {201, true}, {202, true}, {204, true}, {400, false}, {404, false}, {409, false}, {500, false}, {503, false}} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			sink := &HTTPSink{URL: srv.URL + "/" + strconv.Itoa(tc.code),
				Client: srv.Client(), Header: http.Header{"Authorization": {"Bearer t"}}}
			err := sink.Deliver(context.Background(), m)
			assert.Equal(t, m.Key, gotHeader.Get("Idempotency-Key"))
			assert.Equal(t, "application/json", gotHeader.Get("Content-Type"))
			assert.Equal(t, "Bearer t", gotHeader.Get("Authorization"))
			assert.Equal(t, map[string]any{"seq": float64(9), "key": m.Key, "kind": "full_sync_completed",
				"slot": "slot/3", "at": "2023-11-14T22:13:20Z", "attrs": map[string]any{"session": "7"}}, gotBody)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrHTTPStatus)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.code, se.StatusCode)
			assert.Contains(t, err.Error(), "reason: "+http.StatusText(tc.code))
			assert.Contains(t, err.Error(), srv.URL)
		})
	}
}

func TestHTTPSinkTransportFailures(t *testing.T) {
	m := store.Milestone{Seq: 1, Key: "k", Kind: "x"}

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		client := srv.Client()
		client.Timeout = 50 * time.Millisecond
		err := (&HTTPSink{URL: srv.URL, Client: client}).Deliver(context.Background(), m)
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrHTTPStatus)
		assert.Contains(t, err.Error(), "Client.Timeout exceeded")
		t.Log(err)
	})

	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := (&HTTPSink{URL: url}).Deliver(context.Background(), m)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "connection refused")
		assert.Contains(t, err.Error(), url)
		t.Log(err)
	})

	t.Run("cancelled context", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := (&HTTPSink{URL: srv.URL, Client: srv.Client()}).Deliver(ctx, m)
		assert.ErrorIs(t, err, context.Canceled)
	})

	t.Run("bad URLs", func(t *testing.T) {
		for _, u := range []string{"", "ftp://example.com/x", "http://", "://nope", "http://a b/"} {
			_, err := NewHTTPSink(u, nil)
			assert.ErrorIs(t, err, ErrInvalidConfig, "%q", u)
			err = (&HTTPSink{URL: u}).Deliver(context.Background(), m)
			assert.ErrorIs(t, err, ErrInvalidConfig, "%q", u)
		}
	})

	t.Run("name hides password", func(t *testing.T) {
		s := &HTTPSink{URL: "https://user:secret@example.com/hook"}
		assert.Equal(t, "http POST https://user:xxxxx@example.com/hook", s.String())
		assert.False(t, errors.Is(nil, ErrHTTPStatus))
	})
}

func TestStartStopWithHTTPSinkLeavesNoGoroutines(t *testing.T) {
	recv := &dedupReceiver{seen: map[string]bool{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	sink, err := NewHTTPSink(srv.URL, client)
	require.NoError(t, err)
	ob, err := New(store.NewMemory(), sink, clock.NewMock(), Config{})
	require.NoError(t, err)

	baseline := runtime.NumGoroutine()
	ob.Start()
	appendN(t, ob, 0, 20)
	require.Eventually(t, func() bool { _, order := recv.snapshot(); return len(order) == 20 },
		10*time.Second, time.Millisecond)
	ob.Stop()
	// The deliverer and the keep-alive connection (client and server side)
	// are gone. Polled by hand: require.Eventually runs its condition in
	// a goroutine of its own, which would be counted.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, stacks())
		}
		<-tick.C
	}
	_, order := recv.snapshot()
	for i, k := range order {
		assert.Equal(t, milestone(i).Key, k)
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
