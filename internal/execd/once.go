package execd

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
)

// GatherOnce runs one Gather of input and writes its metrics as line
// protocol to out. Errors the plugin reports go to log; their count is
// returned so the caller can exit non-zero.
func GatherOnce(input telegraf.Input, out io.Writer, log telegraf.Logger) (int, error) {
	acc := &onceAccumulator{log: log, out: out}
	if err := acc.serializer.Init(); err != nil {
		return 0, fmt.Errorf("creating serializer: %w", err)
	}
	if err := input.Gather(acc); err != nil {
		acc.AddError(err)
	}
	return acc.errors, acc.writeErr
}

// onceAccumulator writes each metric as it arrives, so memory stays flat
// however many series a collection has.
type onceAccumulator struct {
	mu         sync.Mutex
	log        telegraf.Logger
	out        io.Writer
	serializer influx.Serializer
	errors     int
	writeErr   error
}

func (a *onceAccumulator) add(name string, fields map[string]interface{}, tags map[string]string, vt telegraf.ValueType, t []time.Time) {
	ts := time.Now()
	if len(t) > 0 {
		ts = t[0]
	}
	a.AddMetric(metric.New(name, tags, fields, ts, vt))
}

func (a *onceAccumulator) AddFields(n string, f map[string]interface{}, tg map[string]string, t ...time.Time) {
	a.add(n, f, tg, telegraf.Untyped, t)
}

func (a *onceAccumulator) AddGauge(n string, f map[string]interface{}, tg map[string]string, t ...time.Time) {
	a.add(n, f, tg, telegraf.Gauge, t)
}

func (a *onceAccumulator) AddCounter(n string, f map[string]interface{}, tg map[string]string, t ...time.Time) {
	a.add(n, f, tg, telegraf.Counter, t)
}

func (a *onceAccumulator) AddSummary(n string, f map[string]interface{}, tg map[string]string, t ...time.Time) {
	a.add(n, f, tg, telegraf.Summary, t)
}

func (a *onceAccumulator) AddHistogram(n string, f map[string]interface{}, tg map[string]string, t ...time.Time) {
	a.add(n, f, tg, telegraf.Histogram, t)
}

func (a *onceAccumulator) AddMetric(m telegraf.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.writeErr != nil {
		return
	}
	b, err := a.serializer.Serialize(m)
	if err != nil {
		a.writeErr = fmt.Errorf("serializing %s: %w", m.Name(), err)
		return
	}
	if _, err := a.out.Write(b); err != nil {
		a.writeErr = fmt.Errorf("writing metrics: %w", err)
	}
}

func (*onceAccumulator) SetPrecision(time.Duration) {}

func (a *onceAccumulator) AddError(err error) {
	if err == nil {
		return
	}
	a.mu.Lock()
	a.errors++
	a.mu.Unlock()
	a.log.Errorf("Error in plugin: %v", err)
}

func (*onceAccumulator) WithTracking(int) telegraf.TrackingAccumulator {
	panic("execd: tracking is not supported by a one-shot gather")
}
