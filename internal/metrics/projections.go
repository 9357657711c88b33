package metrics

import "github.com/prometheus/client_golang/prometheus"

// Progress is where the projections stand, as read on a scrape.
//
// Positions are the commit part of the event store's positions: event
// numbers in the embedded store, byte offsets in EventStoreDB's log. The
// lag is counted in the same unit: events behind, or bytes of log behind.
type Progress struct {
	// Head is the event store's last position; HeadErr, when set, says
	// why it could not be read (then neither the head nor lags are
	// exposed, and the scrape reports the error).
	Head    uint64
	HeadErr error
	// Projections lists each projection's progress.
	Projections []Projection
	// Reactions lists each reaction's progress, beside the projections'.
	Reactions []Reaction
}

// Reaction is one reaction's progress: its forwarder's checkpoint, as a
// projection's position, and what only reactions have.
type Reaction struct {
	Projection
	// LagSeconds is how long ago the oldest event still being handled was
	// recorded; Parked counts its parked messages.
	LagSeconds float64
	Parked     int
}

// Projection is one projection's progress.
type Projection struct {
	Name string
	// Position is the last position it has applied.
	Position uint64
	// CaughtUp is whether it has caught up since the start; Failing
	// whether its last batch failed (it is retrying).
	CaughtUp, Failing bool
}

var (
	headDesc = prometheus.NewDesc("agentdesk_eventstore_head_position",
		"Position of the last event in the event store (commit position).", nil, nil)
	projectionPositionDesc = prometheus.NewDesc("agentdesk_projection_position",
		"Last event-store position a projection has applied (commit position).", []string{"projection"}, nil)
	projectionLagDesc = prometheus.NewDesc("agentdesk_projection_lag",
		"How far a projection is behind the event store's head: events in the embedded store, bytes of log in EventStoreDB.", []string{"projection"}, nil)
	projectionCaughtUpDesc = prometheus.NewDesc("agentdesk_projection_caught_up",
		"1 once a projection has caught up since the start.", []string{"projection"}, nil)
	projectionFailingDesc = prometheus.NewDesc("agentdesk_projection_failing",
		"1 while a projection's last batch failed and it is retrying.", []string{"projection"}, nil)

	reactionPositionDesc = prometheus.NewDesc("agentdesk_reaction_position",
		"Event-store position up to which a reaction's forwarder has handed events over (commit position).", []string{"reaction"}, nil)
	reactionLagDesc = prometheus.NewDesc("agentdesk_reaction_lag",
		"How far a reaction is behind the event store's head, in the unit of agentdesk_projection_lag.", []string{"reaction"}, nil)
	reactionLagSecondsDesc = prometheus.NewDesc("agentdesk_reaction_lag_seconds",
		"How long ago the oldest event a reaction is still handling was recorded; 0 when idle.", []string{"reaction"}, nil)
	reactionParkedDesc = prometheus.NewDesc("agentdesk_reaction_parked",
		"Messages of a reaction parked after their retries, waiting for a replay.", []string{"reaction"}, nil)
	reactionFailingDesc = prometheus.NewDesc("agentdesk_reaction_failing",
		"1 while a reaction's forwarder is failing and starting again.", []string{"reaction"}, nil)
)

// projectionCollector reads the projections' progress on every scrape,
// so nothing is computed between scrapes.
type projectionCollector struct {
	progress func() Progress
}

// Describe implements prometheus.Collector.
func (c *projectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{headDesc, projectionPositionDesc, projectionLagDesc, projectionCaughtUpDesc, projectionFailingDesc,
		reactionPositionDesc, reactionLagDesc, reactionLagSecondsDesc, reactionParkedDesc, reactionFailingDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *projectionCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.progress()
	if p.HeadErr != nil {
		ch <- prometheus.NewInvalidMetric(headDesc, p.HeadErr)
	} else {
		ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(p.Head))
	}
	for _, pr := range p.Projections {
		ch <- prometheus.MustNewConstMetric(projectionPositionDesc, prometheus.GaugeValue, float64(pr.Position), pr.Name)
		if p.HeadErr == nil {
			// The head is read after the positions, so it is at or past
			// them; the guard keeps a store that reports otherwise from
			// showing a huge unsigned lag.
			lag := uint64(0)
			if p.Head > pr.Position {
				lag = p.Head - pr.Position
			}
			ch <- prometheus.MustNewConstMetric(projectionLagDesc, prometheus.GaugeValue, float64(lag), pr.Name)
		}
		ch <- prometheus.MustNewConstMetric(projectionCaughtUpDesc, prometheus.GaugeValue, boolValue(pr.CaughtUp), pr.Name)
		ch <- prometheus.MustNewConstMetric(projectionFailingDesc, prometheus.GaugeValue, boolValue(pr.Failing), pr.Name)
	}
	for _, r := range p.Reactions {
		ch <- prometheus.MustNewConstMetric(reactionPositionDesc, prometheus.GaugeValue, float64(r.Position), r.Name)
		if p.HeadErr == nil {
			lag := uint64(0)
			if p.Head > r.Position {
				lag = p.Head - r.Position
			}
			ch <- prometheus.MustNewConstMetric(reactionLagDesc, prometheus.GaugeValue, float64(lag), r.Name)
		}
		ch <- prometheus.MustNewConstMetric(reactionLagSecondsDesc, prometheus.GaugeValue, r.LagSeconds, r.Name)
		ch <- prometheus.MustNewConstMetric(reactionParkedDesc, prometheus.GaugeValue, float64(r.Parked), r.Name)
		ch <- prometheus.MustNewConstMetric(reactionFailingDesc, prometheus.GaugeValue, boolValue(r.Failing), r.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
