package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// A state is replicated as parts, one record each, so that a save appends
// only what changed since the last (a delivery changes one alert's log
// entry and one queue, not every firing alert) and compaction keeps each
// part's latest version: an alert, its delivery-log entry, a destination's
// queue, held notifications or pacing, and the few other top-level fields
// whole. The parts are cut from the state file's JSON, so this package
// does not depend on its Go type.

// perEntry are the state's top-level maps replicated entry by entry.
var perEntry = map[string]bool{"sent": true, "queues": true, "held": true, "paced": true}

// alertsField is the top-level array replicated element by element, by
// each element's "key".
const alertsField = "alerts"

// Split cuts a state into parts by part key ("alerts/<key>",
// "sent/<key>", "queues/<dest>", "field/<name>", ...).
func Split(state []byte) (map[string][]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(state, &top); err != nil {
		return nil, fmt.Errorf("splitting the state: %w", err)
	}
	parts := make(map[string][]byte, len(top))
	for name, raw := range top {
		switch {
		case name == alertsField:
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil, fmt.Errorf("splitting the state's %s: %w", name, err)
			}
			for _, e := range elems {
				var id struct {
					Key string `json:"key"`
				}
				if err := json.Unmarshal(e, &id); err != nil {
					return nil, fmt.Errorf("splitting the state's %s: %w", name, err)
				}
				parts[name+"/"+id.Key] = e
			}
		case perEntry[name]:
			var entries map[string]json.RawMessage
			if err := json.Unmarshal(raw, &entries); err != nil {
				return nil, fmt.Errorf("splitting the state's %s: %w", name, err)
			}
			for k, e := range entries {
				parts[name+"/"+k] = e
			}
		default:
			parts["field/"+name] = raw
		}
	}
	return parts, nil
}

// Join assembles parts into a state's JSON; Join(Split(s)) is s up to the
// order of keys and alerts.
func Join(parts map[string][]byte) ([]byte, error) {
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	top := map[string]json.RawMessage{}
	var alerts []json.RawMessage
	entries := map[string]map[string]json.RawMessage{}
	for _, k := range keys {
		kind, name, ok := strings.Cut(k, "/")
		if !ok {
			return nil, fmt.Errorf("joining the state: part %q has no kind", k)
		}
		switch {
		case kind == alertsField:
			alerts = append(alerts, parts[k])
		case perEntry[kind]:
			if entries[kind] == nil {
				entries[kind] = map[string]json.RawMessage{}
			}
			entries[kind][name] = parts[k]
		case kind == "field":
			top[name] = parts[k]
		default:
			return nil, fmt.Errorf("joining the state: unknown part %q", k)
		}
	}
	if alerts == nil {
		alerts = []json.RawMessage{}
	}
	var err error
	if top[alertsField], err = json.Marshal(alerts); err != nil {
		return nil, err
	}
	for kind, m := range entries {
		if top[kind], err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	return json.Marshal(top)
}

// diff returns the parts of next that differ from prev, and the keys of
// prev that next no longer has.
func diff(prev, next map[string][]byte) (changed map[string][]byte, gone []string) {
	changed = map[string][]byte{}
	for k, v := range next {
		if old, ok := prev[k]; !ok || !bytes.Equal(old, v) {
			changed[k] = v
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	return changed, gone
}
