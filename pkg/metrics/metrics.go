// Package metrics holds dtbridge's Prometheus metrics on a registry of its
// own (no global state) and serves them in the Prometheus text format.
//
// Metric names are part of the operator contract: dtbridge_http_requests_total
// {route,code}, dtbridge_events_total{type,channel} (stored for the first
// time), dtbridge_duplicates_total{type}, dtbridge_quarantined_total{reason},
// dtbridge_rejected_total{code} (deliveries answered with an error), and
// dtbridge_publish_duration_seconds{outcome} and dtbridge_deliveries_in_flight.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the bridge's collectors. Safe for concurrent use.
type Metrics struct {
	registry        *prometheus.Registry
	Requests        *prometheus.CounterVec
	Events          *prometheus.CounterVec
	Duplicates      *prometheus.CounterVec
	Quarantined     *prometheus.CounterVec
	Rejected        *prometheus.CounterVec
	PublishDuration *prometheus.HistogramVec
	InFlight        prometheus.Gauge
}

// New registers every collector (plus Go runtime and process collectors) on
// a new registry.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dtbridge_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dtbridge_events_total", Help: "Events stored for the first time, by type and channel.",
		}, []string{"type", "channel"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dtbridge_duplicates_total", Help: "Deliveries JetStream deduplicated (already stored), by type.",
		}, []string{"type"}),
		Quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dtbridge_quarantined_total", Help: "Deliveries stored in quarantine, by reason.",
		}, []string{"reason"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dtbridge_rejected_total", Help: "Deliveries answered with an error, by error code.",
		}, []string{"code"}),
		PublishDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dtbridge_publish_duration_seconds",
			Help:    "Time from publish to JetStream ack (retries included), by outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"outcome"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dtbridge_deliveries_in_flight", Help: "Webhook deliveries received and not yet answered.",
		}),
	}
	m.registry.MustRegister(m.Requests, m.Events, m.Duplicates, m.Quarantined, m.Rejected, m.PublishDuration, m.InFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObservePublish records one publish; it fits publish.WithObserver.
func (m *Metrics) ObservePublish(seconds float64, err error) {
	outcome := "acked"
	if err != nil {
		outcome = "failed"
	}
	m.PublishDuration.WithLabelValues(outcome).Observe(seconds)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
