package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

type nopDriver struct{}

func (nopDriver) Sync(slot.Request) error             { return nil }
func (nopDriver) Close(slot.ID, slot.Session, string) {}
func (nopDriver) MetaSync(replica.MetaRequest) error  { return nil }
func (nopDriver) MetaClose(slot.Session, string)      {}

type coreSource struct {
	in   *replica.Instance
	feed *observe.Feed
}

func (s coreSource) Info() replica.Info  { return s.in.Info() }
func (s coreSource) Feed() *observe.Feed { return s.feed }

func newPage(t *testing.T, shards int) (*Page, *replica.Instance, *httptest.Server) {
	t.Helper()
	feed := observe.NewFeed(10)
	in, err := replica.New(replica.Options{
		Slot:   slot.Options{Clock: clock.NewMock(), Driver: nopDriver{}, Observers: []slot.Observer{feed.SlotObserver()}},
		Driver: nopDriver{}, Config: replica.DefaultConfig(), SlotConfig: slot.DefaultConfig(),
		Observers: []func(replica.Record){feed.InstanceObserver()},
	})
	require.NoError(t, err)
	for i := 0; i < shards; i++ {
		_, err := in.AddSlot(slot.ID(i), "")
		require.NoError(t, err)
	}
	p, err := New(coreSource{in, feed}, Options{Title: "test <page>", Lag: func(st slot.Status) string { return "lag-of-" + st.ID.String() }})
	require.NoError(t, err)
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return p, in, srv
}

func get(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", url, b)
	return string(b), res.Header
}

func TestPageServesEverythingItNeeds(t *testing.T) {
	_, in, srv := newPage(t, 2)
	s1, _ := in.Slot(1)
	_, err := s1.Detach("operator")
	require.NoError(t, err)

	html, _ := get(t, srv.URL+"/")
	assert.Contains(t, html, "<title>test &lt;page&gt; — status</title>")
	assert.NotContains(t, html, "http://", "no external resources")
	assert.NotContains(t, html, "https://", "no external resources")
	js, _ := get(t, srv.URL+"/static/app.js")
	assert.Contains(t, js, "EventSource")
	assert.NotContains(t, js, "http")
	css, h := get(t, srv.URL+"/static/style.css")
	assert.Contains(t, css, "table")
	assert.Contains(t, h.Get("Content-Type"), "text/css")

	body, _ := get(t, srv.URL+"/api/status")
	var doc statusDoc
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	require.Len(t, doc.Shards, 2)
	assert.Equal(t, "Detached", doc.Shards[1].State)
	assert.Equal(t, "lag-of-slot/0", doc.Shards[0].Lag)
	assert.Equal(t, map[string]int{"Connected/NoConnect": 1, "Connected/Detached": 1}, doc.Counts)
	require.Len(t, doc.Recent, 1)
	assert.Equal(t, "detach", doc.Recent[0].Event)

	mmd, _ := get(t, srv.URL+"/api/chart.mmd")
	assert.Contains(t, mmd, "Detached ×1")
}

func TestChartSVGFollowsCounts(t *testing.T) {
	requireDot(t)
	_, in, srv := newPage(t, 1)
	svg, h := get(t, srv.URL+"/api/chart.svg")
	assert.Contains(t, h.Get("Content-Type"), "image/svg+xml")
	assert.Contains(t, svg, "NoConnect ×1")
	key := h.Get("X-Chart-Key")
	again, h2 := get(t, srv.URL+"/api/chart.svg")
	assert.Equal(t, svg, again, "unchanged counts: the cached drawing")
	assert.Equal(t, key, h2.Get("X-Chart-Key"))
	s, _ := in.Slot(0)
	_, err := s.Detach("op")
	require.NoError(t, err)
	svg, h3 := get(t, srv.URL+"/api/chart.svg")
	assert.NotEqual(t, key, h3.Get("X-Chart-Key"))
	assert.Contains(t, svg, "Detached ×1")
}

func requireDot(t *testing.T) {
	t.Helper()
	if !haveDot() {
		t.Fatal("graphviz `dot` not installed: run `make deps`")
	}
}

func TestEventsStreamTransitionsAndEndOnClose(t *testing.T) {
	p, in, srv := newPage(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	rd := bufio.NewReader(res.Body)
	// The stream is open once the greeting arrived; then a transition.
	for {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, ": connected") {
			break
		}
	}
	s, _ := in.Slot(0)
	_, err = s.Detach("op")
	require.NoError(t, err)
	var data string
	for data == "" {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		if after, ok := strings.CutPrefix(line, "data: "); ok {
			data = after
		}
	}
	var e observe.Entry
	require.NoError(t, json.Unmarshal([]byte(data), &e))
	assert.Equal(t, "detach", e.Event)
	assert.Equal(t, "slot/0", e.ID)
	assert.Equal(t, "Detached", e.To)

	p.Close()
	_, err = io.Copy(io.Discard, rd)
	assert.NoError(t, err, "the stream ends cleanly when the page closes")
}

func TestListenAndClose(t *testing.T) {
	p, _, _ := newPage(t, 1)
	s, err := Listen("127.0.0.1:0", p, p)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
	body, _ := get(t, s.URL()+"api/status")
	assert.Contains(t, body, `"shards"`)
	require.NoError(t, s.Close())
	_, err = Listen("256.0.0.1:0", p, nil)
	assert.Error(t, err)
}
