// Package statuspage is the live status page of a running replica: a
// table of shards, the composite statechart drawn from the running
// definitions with how many shards are in each state now, and the last
// transitions as they happen (server-sent events, no reload). Every
// script and style is embedded in the binary; the page needs no network
// beyond the replica itself.
package statuspage

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/replsm/replsm/fsm"
	"github.com/replsm/replsm/internal/charts"
	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

//go:embed static
var static embed.FS

// Source is what the page shows: the core's status data and its feed of
// transitions.
type Source interface {
	Info() replica.Info
	Feed() *observe.Feed
}

// Options adds what an embedding knows per shard.
type Options struct {
	// Title heads the page ("replsm replica").
	Title string
	// Lag, when set, describes how far behind a shard is ("1.2 KiB, 0 s");
	// "" shows a dash.
	Lag func(st slot.Status) string
	// Logger receives render failures; nil discards.
	Logger *slog.Logger
	// Chart is the composite chart to draw, built from the running
	// configuration (charts.CompositeChartFor); nil draws the defaults'.
	Chart *fsm.Chart
}

// Page serves the status page. Close ends its event streams.
type Page struct {
	src  Source
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	done      chan struct{}
	closeOnce sync.Once

	chartMu  sync.Mutex
	chartKey string // overlay the cached SVG was drawn with
	chartSVG []byte
	base     fsm.Chart
}

// New builds the page for src.
func New(src Source, opts Options) (*Page, error) {
	var base fsm.Chart
	if opts.Chart != nil {
		base = opts.Chart.Clone()
	} else {
		var err error
		if base, err = charts.CompositeChart(); err != nil {
			return nil, err
		}
	}
	if opts.Title == "" {
		opts.Title = "replsm"
	}
	p := &Page{src: src, opts: opts, log: opts.Logger, mux: http.NewServeMux(), done: make(chan struct{}), base: base}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(sub)
	p.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	p.mux.HandleFunc("GET /{$}", p.index)
	p.mux.HandleFunc("GET /api/status", p.status)
	p.mux.HandleFunc("GET /api/chart.svg", p.chartSVGHandler)
	p.mux.HandleFunc("GET /api/chart.mmd", p.chartMermaid)
	p.mux.HandleFunc("GET /events", p.events)
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Close ends every event stream (http.Server.Shutdown waits for them
// otherwise). It is idempotent.
func (p *Page) Close() { p.closeOnce.Do(func() { close(p.done) }) }

func (p *Page) index(w http.ResponseWriter, _ *http.Request) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = bytes.ReplaceAll(b, []byte("{{TITLE}}"), []byte(htmlEscape(p.opts.Title)))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

func htmlEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shardRow is one row of the page's table.
type shardRow struct {
	ID           int     `json:"id"`
	Endpoint     string  `json:"endpoint"`
	State        string  `json:"state"`
	InStateSec   float64 `json:"in_state_seconds"`
	Lag          string  `json:"lag"`
	Recoveries   uint64  `json:"recoveries"`
	FullSyncs    uint64  `json:"full_syncs"`
	PartialSyncs uint64  `json:"partial_syncs"`
	AttemptsLeft int     `json:"attempts_left"`
	Cap          int     `json:"cap"`
	Exhausted    bool    `json:"exhausted"`
	LastError    string  `json:"last_error"`
}

type statusDoc struct {
	Title    string          `json:"title"`
	Instance instanceDoc     `json:"instance"`
	Shards   []shardRow      `json:"shards"`
	Counts   map[string]int  `json:"counts"`
	ChartKey string          `json:"chart_key"`
	Recent   []observe.Entry `json:"recent"`
	HaveSVG  bool            `json:"have_svg"`
}

type instanceDoc struct {
	State        string  `json:"state"`
	Master       string  `json:"master"`
	LinkUp       bool    `json:"link_up"`
	InStateSec   float64 `json:"in_state_seconds"`
	AttemptsLeft int     `json:"attempts_left"`
	Cap          int     `json:"cap"`
	Exhausted    bool    `json:"exhausted"`
	LastError    string  `json:"last_error"`
}

// overlay is the chart decoration for info: the instance's state, and
// every shard counted in its state nested in the composite's Connected.
func overlay(info replica.Info) fsm.Overlay {
	o := fsm.Overlay{Current: string(info.State), Counts: map[string]int{}}
	for _, s := range info.Slots {
		o.Counts[charts.ComposedIn+fsm.PathSep+string(s.State)]++
	}
	return o
}

func overlayKey(o fsm.Overlay) string {
	b, _ := json.Marshal(o) // map keys are sorted: a stable key
	return string(b)
}

func (p *Page) status(w http.ResponseWriter, _ *http.Request) {
	info := p.src.Info()
	o := overlay(info)
	doc := statusDoc{
		Title: p.opts.Title,
		Instance: instanceDoc{State: string(info.State), Master: info.Master, LinkUp: info.LinkUp,
			InStateSec: info.InState.Seconds(), AttemptsLeft: info.AttemptsLeft, Cap: info.Cap,
			Exhausted: info.Exhausted, LastError: info.LastError},
		Counts: o.Counts, ChartKey: overlayKey(o), Recent: p.src.Feed().Recent(), HaveSVG: haveDot(),
	}
	for _, s := range info.Slots {
		row := shardRow{ID: int(s.ID), Endpoint: s.Endpoint, State: string(s.State), InStateSec: s.InState.Seconds(),
			Recoveries: s.Stats.Recoveries, FullSyncs: s.Stats.FullSyncs, PartialSyncs: s.Stats.PartialSyncs,
			AttemptsLeft: s.AttemptsLeft, Cap: s.Cap, Exhausted: s.Exhausted, LastError: s.LastError}
		if p.opts.Lag != nil {
			row.Lag = p.opts.Lag(s)
		}
		doc.Shards = append(doc.Shards, row)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(doc)
}

func haveDot() bool {
	_, err := exec.LookPath("dot")
	return err == nil
}

// chartSVGHandler draws the composite chart with the live overlay through
// Graphviz, re-rendering only when the counts changed since the last
// drawing (dot takes a noticeable fraction of a second).
func (p *Page) chartSVGHandler(w http.ResponseWriter, _ *http.Request) {
	o := overlay(p.src.Info())
	key := overlayKey(o)
	p.chartMu.Lock()
	defer p.chartMu.Unlock()
	if key != p.chartKey || p.chartSVG == nil {
		svg, err := charts.RenderSVG(fsm.DOT(p.base, o))
		if err != nil {
			p.log.Warn("status page: drawing the statechart failed", slog.String("err", err.Error()))
			status := http.StatusInternalServerError
			if errors.Is(err, charts.ErrNoGraphviz) {
				status = http.StatusNotImplemented
			}
			http.Error(w, err.Error(), status)
			return
		}
		p.chartKey, p.chartSVG = key, svg
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Chart-Key", key)
	_, _ = w.Write(p.chartSVG)
}

func (p *Page) chartMermaid(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(fsm.Mermaid(p.base, overlay(p.src.Info())))
}

// events streams every new transition as a server-sent event "transition"
// with the observe.Entry as JSON, and a comment every 15 s so proxies keep
// the stream open.
func (p *Page) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := p.src.Feed().Subscribe(256)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprint(w, "retry: 1000\n: connected\n\n")
	fl.Flush()
	// A real-time ticker: the keepalive is about the HTTP connection, not
	// the replica's (possibly mocked) clock.
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		case <-keep.C:
			_, _ = fmt.Fprint(w, ": keepalive\n\n")
		case e, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(e)
			_, _ = fmt.Fprintf(w, "event: transition\nid: %s\ndata: %s\n\n", strconv.FormatUint(e.Seq, 10), b)
		}
		fl.Flush()
	}
}

// Server is the HTTP listener of --metrics-listen: /metrics and the page.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	page *Page
	done chan struct{}
}

// Listen serves h on addr (HOST:PORT; port 0 picks one) in the background.
// page, when not nil, is closed with the server.
func Listen(addr string, h http.Handler, page *Page) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln, page: page, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is http://Addr/.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close ends the event streams, then shuts the server down within 5 s and
// waits for its goroutine.
func (s *Server) Close() error {
	if s.page != nil {
		s.page.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	return err
}
