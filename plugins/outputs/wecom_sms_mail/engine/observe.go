package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/health"
)

// observer turns metrics into observations.
type observer struct {
	levelKey    string
	valueField  string
	excludeTags map[string]bool
	keyScratch  []*telegraf.Tag
	keyBuilder  strings.Builder
}

func newObserver(levelKey, valueField string, excludeTags []string) *observer {
	ex := make(map[string]bool, len(excludeTags)+1)
	for _, t := range excludeTags {
		ex[t] = true
	}
	ex[levelKey] = true
	return &observer{levelKey: levelKey, valueField: valueField, excludeTags: ex}
}

// observe extracts the observation of m. ok is false for metrics without a
// level; err is set for a level that is not ok, warning or critical. It
// runs once per metric on the hot path, so the fields are read in one pass.
func (o *observer) observe(m telegraf.Metric) (obs alert.Observation, ok bool, err error) {
	raw, found := m.GetTag(o.levelKey)
	var levelField any
	for _, f := range m.FieldList() {
		switch f.Key {
		case o.levelKey:
			levelField = f.Value
		case o.valueField:
			obs.Value, obs.HasValue = alert.Number(f.Value)
		case "alert_threshold":
			obs.Threshold, obs.HasThreshold = alert.Number(f.Value)
		case "alert_pending":
			if s, ok := f.Value.(string); ok {
				obs.Pending, _ = alert.ParseLevel(s)
			}
		default:
			obs.Details.Set(f.Key, f.Value)
		}
	}
	if !found {
		if levelField == nil {
			return obs, false, nil
		}
		s, isString := levelField.(string)
		if !isString {
			return obs, false, fmt.Errorf("%s: field %q is %T, want a string", m.Name(), o.levelKey, levelField)
		}
		raw = s
	}
	if obs.Level, err = alert.ParseLevel(raw); err != nil {
		return obs, false, fmt.Errorf("%s: %s: %w", m.Name(), o.levelKey, err)
	}
	obs.Key = o.key(m)
	obs.At = m.Time()
	return obs, true, nil
}

// key is the alert identity: the measurement and every tag but the excluded
// ones, as an escaped series key ("name,k=v,k2=v2", tags sorted). It runs
// once per metric, so it avoids the allocations it can.
func (o *observer) key(m telegraf.Metric) string {
	tags := o.keyScratch[:0]
	for _, t := range m.TagList() {
		if !o.excludeTags[t.Key] {
			tags = append(tags, t)
		}
	}
	// Telegraf keeps tags sorted by key; sort only if a metric does not.
	if !sort.SliceIsSorted(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key }) {
		sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	}
	b := &o.keyBuilder
	b.Reset()
	alert.WriteEscaped(b, m.Name())
	for _, t := range tags {
		b.WriteByte(',')
		alert.WriteEscaped(b, t.Key)
		b.WriteByte('=')
		alert.WriteEscaped(b, t.Value)
	}
	o.keyScratch = tags[:0]
	return b.String()
}

// gatherOf reads a ckafka_lag_gather: every tag is the collector's
// identity (host included), the fields what failed.
func gatherOf(m telegraf.Metric) health.Gather {
	g := health.Gather{Time: m.Time()}
	for _, t := range m.TagList() {
		g.Tags = append(g.Tags, alert.Tag{Key: t.Key, Value: t.Value})
	}
	num := func(key string) int64 {
		v, _ := alert.Number(m.Fields()[key])
		return int64(v)
	}
	g.Groups, g.FailedGroups, g.Errors = num("groups"), num("failed_groups"), num("api_errors")
	g.LastError, _ = m.Fields()["last_error"].(string)
	role, _ := m.Fields()["role"].(string)
	g.Standby = role == "standby"
	return g
}
