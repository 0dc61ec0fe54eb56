package wecom_sms_mail

import (
	"fmt"
	"sort"
	"strings"

	"github.com/influxdata/telegraf"
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
func (o *observer) observe(m telegraf.Metric) (obs Observation, ok bool, err error) {
	raw, found := m.GetTag(o.levelKey)
	var levelField any
	for _, f := range m.FieldList() {
		switch f.Key {
		case o.levelKey:
			levelField = f.Value
		case o.valueField:
			obs.Value, obs.HasValue = toFloat(f.Value)
		case "alert_threshold":
			obs.Threshold, obs.HasThreshold = toFloat(f.Value)
		default:
			obs.Details.set(f.Key, f.Value)
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
	if obs.Level, err = ParseLevel(raw); err != nil {
		return obs, false, fmt.Errorf("%s: %s: %w", m.Name(), o.levelKey, err)
	}
	obs.Key = o.key(m)
	return obs, true, nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
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
	writeEscaped(b, m.Name())
	for _, t := range tags {
		b.WriteByte(',')
		writeEscaped(b, t.Key)
		b.WriteByte('=')
		writeEscaped(b, t.Value)
	}
	o.keyScratch = tags[:0]
	return b.String()
}

func writeEscaped(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, `\,=`) {
		b.WriteString(s)
		return
	}
	keyEscaper.WriteString(b, s)
}

var keyEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`)

// Tag is one tag of an alert's identity.
type Tag struct {
	Key, Value string
}

// parseKey splits a key made by observer.key.
func parseKey(key string) (name string, tags []Tag) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && i+1 < len(key):
			i++
			cur.WriteByte(key[i])
		case c == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		case c == '=' && len(parts) > 0:
			cur.WriteByte(0) // separator, unambiguous after unescaping
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	name = parts[0]
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "\x00")
		tags = append(tags, Tag{Key: k, Value: v})
	}
	return name, tags
}
