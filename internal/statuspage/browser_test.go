package statuspage_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/replsm/replsm/internal/charts"
	"github.com/replsm/replsm/internal/redistest"
	"github.com/replsm/replsm/internal/statuspage"
	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/redis/replica"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
	"github.com/replsm/replsm/timeouts"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/status-page.png from the browser test")

type source struct{ r *replica.Replica }

func (s source) Info() core.Info     { return s.r.Instance().Info() }
func (s source) Feed() *observe.Feed { return s.r.Feed() }

// startReplica follows one real redis-server primary per shard with fast
// timings and serves /metrics and the page.
func startReplica(t *testing.T, primaries []*redistest.Server) (*replica.Replica, *statuspage.Server) {
	t.Helper()
	cfg := replica.DefaultConfig()
	cfg.Shards = map[slot.ID]string{}
	for i, p := range primaries {
		cfg.Shards[slot.ID(i)] = p.Addr()
	}
	cfg.ListenAddr = "127.0.0.1:0"
	fast := timeouts.Backoff{Initial: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, Max: 2 * time.Second}
	cfg.SlotConfig.ReplyTimeout = 2 * time.Second
	cfg.SlotConfig.KeepaliveTimeout = 3 * time.Second
	cfg.SlotConfig.Backoff = fast
	cfg.Instance.MetaTimeout = 3 * time.Second
	cfg.Instance.ConnectBackoff = fast
	cfg.Instance.Backoff = fast
	cfg.DialTimeout = time.Second
	cfg.ReadTimeout = 4 * time.Second
	cfg.LagProbeInterval = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := replica.New(cfg, clock.New())
	require.NoError(t, err)
	require.NoError(t, r.Start())
	t.Cleanup(func() { _ = r.Close() })

	chart, err := charts.CompositeChartFor(r.Config().Instance, r.Config().SlotConfig)
	require.NoError(t, err)
	page, err := statuspage.New(source{r}, statuspage.Options{Title: "replsm replica (test)", Chart: &chart, Lag: func(st slot.Status) string {
		if b, s, ok := r.Lag(st.ID); ok {
			return fmt.Sprintf("%d B, %.0f s", b, s)
		}
		return ""
	}})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collector())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", observe.Handler(reg, r.Metrics()))
	mux.Handle("/", page)
	srv, err := statuspage.Listen("127.0.0.1:0", mux, page)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return r, srv
}

// TestBrowserStatusPage drives Debian's chromium headless against a
// running replica of three real redis-server primaries: the page loads
// without console errors, shows every shard Connected and the chart's
// count, and when one primary is killed the shard's row and the chart's
// counts change while the page is never reloaded.
func TestBrowserStatusPage(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not installed: run `make deps` (Debian package chromium)")
	}
	if _, err := exec.LookPath("dot"); err != nil {
		t.Fatal("graphviz not installed: run `make deps` (Debian package graphviz)")
	}
	var primaries []*redistest.Server
	for i := 0; i < 3; i++ {
		primaries = append(primaries, redistest.Start(t, redistest.Options{Name: fmt.Sprintf("primary%d", i)}))
	}
	for i, p := range primaries {
		require.NoError(t, p.Client().Set(context.Background(), fmt.Sprintf("k%d", i), "v", time.Hour).Err())
	}
	r, srv := startReplica(t, primaries)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, r.Instance().WaitSynced(ctx))

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1100), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// Console errors and warnings, uncaught exceptions and browser log
	// errors (a 404, a refused stream) are all failures.
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(bctx)
	consoleDone := make(chan struct{})
	cctx, ccancel := context.WithCancel(bctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil || cctx.Err() != nil {
				return
			}
			if m.IsException() || m.Type == "error" || m.Type == "warning" {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	defer func() { ccancel(); bcancel(); <-consoleDone }()

	waitJS := func(what, expr string) {
		t.Helper()
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
		require.NoError(t, err, "waiting for %s (%s)", what, expr)
	}
	evalString := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr))
		require.NoError(t, err, expr)
		return v
	}

	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(srv.URL())))
	waitJS("a row per shard", `document.querySelectorAll('#shards tbody tr').length === 3`)
	waitJS("every shard Connected", `[0,1,2].every(i => document.querySelector('#shard-'+i)?.dataset.state === 'Connected')`)
	waitJS("the chart counting three Connected shards", `document.querySelector('#chart').textContent.includes('Connected ×3')`)
	waitJS("the event stream open", `document.querySelector('#live').textContent.includes('live')`)
	waitJS("timer labels of the running configuration", `document.querySelector('#chart').textContent.includes('reply_timeout after 2s')`)
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__notReloaded = true`))
	require.NoError(t, err)
	assert.Equal(t, "3 of 3 connected", evalString(`document.querySelector('#summary').textContent`))

	// The fault: shard 1's primary dies.
	primaries[1].Kill()
	waitJS("shard 1's row leaving Connected", `document.querySelector('#shard-1').dataset.state !== 'Connected'`)
	waitJS("the chart counting two Connected shards", `document.querySelector('#chart').textContent.includes('Connected ×2')`)
	waitJS("shard 1 in Error", `document.querySelector('#shard-1').dataset.state === 'Error'`)
	waitJS("the chart counting one shard in Error", `document.querySelector('#chart').textContent.includes('Error ×1')`)
	waitJS("shard 1's failure in the last transitions", `[...document.querySelectorAll('#recent li')].some(li => li.textContent.includes('slot/1') && li.textContent.includes('-> Error'))`)
	waitJS("shard 1's last error shown", `document.querySelector('#shard-1 td.err').textContent.length > 0`)
	notReloaded, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__notReloaded === true`))
	require.NoError(t, err)
	assert.True(t, notReloaded, "the page reloaded")
	assert.Contains(t, evalString(`document.querySelector('#shard-0').textContent`), "Connected")
	assert.Contains(t, evalString(`document.querySelector('#live').textContent`), "live")
	assert.Equal(t, "2 of 3 connected", evalString(`document.querySelector('#summary').textContent`))

	if *updateScreenshot {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), png, 0o644))
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems, "console errors or warnings")
}
