package main

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/replsm/replsm/internal/charts"
	"github.com/replsm/replsm/internal/statuspage"
	"github.com/replsm/replsm/observe"
	"github.com/replsm/replsm/redis/primary"
	"github.com/replsm/replsm/redis/replica"
	core "github.com/replsm/replsm/replica"
	"github.com/replsm/replsm/slot"
)

// replicaSource adapts a Redis replica to the status page.
type replicaSource struct{ r *replica.Replica }

func (s replicaSource) Info() core.Info     { return s.r.Instance().Info() }
func (s replicaSource) Feed() *observe.Feed { return s.r.Feed() }

// serveReplicaStatus serves /metrics and the status page of r on addr.
func serveReplicaStatus(addr string, r *replica.Replica) (*statuspage.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), r.Collector())
	chart, err := charts.CompositeChartFor(r.Config().Instance, r.Config().SlotConfig)
	if err != nil {
		return nil, err
	}
	page, err := statuspage.New(replicaSource{r}, statuspage.Options{
		Title: "replsm replica",
		Chart: &chart,
		Lag: func(st slot.Status) string {
			b, s, ok := r.Lag(st.ID)
			if !ok {
				return ""
			}
			return fmt.Sprintf("%d B, %.0f s", b, s)
		},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", observe.Handler(reg, r.Metrics()))
	mux.Handle("/", page)
	return statuspage.Listen(addr, mux, page)
}

// servePrimaryMetrics serves /metrics of p on addr.
func servePrimaryMetrics(addr string, p *primary.Primary) (*statuspage.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), p.Collector())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return statuspage.Listen(addr, mux, nil)
}
