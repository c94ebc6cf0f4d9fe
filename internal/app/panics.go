package app

import "github.com/prometheus/client_golang/prometheus"

// countPanics exports the panics a long-running part recovered from at
// its top (its Panics method) as postern_panics_total{component}, read
// at each scrape.
func (a *App) countPanics(component string, panics func() int64) {
	c := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "postern_panics_total",
		Help:        "Panics recovered at the top of a long-running part (smtpd sessions, delivery, webhooks, jobs).",
		ConstLabels: prometheus.Labels{"component": component},
	}, func() float64 { return float64(panics()) })
	if err := a.Registry.Register(c); err != nil {
		a.Log.Warn("metrics: panics not exported", "component", component, "err", err)
	}
}
