package alert

import (
	"encoding/json"
	"time"
)

// Opt is a value the input may not know (a rate on its first collection):
// absent, never 0 in its place.
type Opt struct {
	Value float64
	Known bool
}

func (o Opt) MarshalJSON() ([]byte, error) {
	if !o.Known {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

func (o *Opt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = Opt{}
		return nil
	}
	o.Known = true
	return json.Unmarshal(b, &o.Value)
}

// Details are what the input and the threshold script say of how late a
// consumer is and why the alert fires. Each observation replaces them
// whole: a value that went away (no drain ETA once the backlog grows) is
// unknown now.
type Details struct {
	LagSeconds   Opt    `json:"lag_seconds,omitzero"`
	ProduceRate  Opt    `json:"produce_rate,omitzero"`
	ConsumeRate  Opt    `json:"consume_rate,omitzero"`
	DrainSeconds Opt    `json:"drain_seconds,omitzero"`
	Stalled      bool   `json:"stalled,omitempty"`
	GroupState   string `json:"group_state,omitempty"`
	GroupMembers Opt    `json:"group_members,omitzero"`
	Reason       string `json:"reason,omitempty"` // lag, lag_seconds, stalled, retention or lost
	// Retention and what it means for the unread messages.
	RetentionSeconds Opt `json:"retention_seconds,omitzero"`
	HeadroomSeconds  Opt `json:"retention_headroom_seconds,omitzero"`
	LossETASeconds   Opt `json:"loss_eta_seconds,omitzero"`
	LostMessages     Opt `json:"lost_messages,omitzero"`
	// Collector is set on the alerts about a collector itself.
	Collector *Collector `json:"collector,omitempty"`
}

// lost reports whether the series has lost unread messages to retention.
func (d Details) lost() bool { return d.LostMessages.Known && d.LostMessages.Value > 0 }

// Checks of the collector alerts.
const (
	CheckFailing = "collection_failing"
	CheckSilent  = "collector_silent"
	// CheckNoActive: every collector of an HA pair reports standby, so
	// nothing is collected although they all report.
	CheckNoActive = "no_active_collector"
)

// Collector is what a collector alert says of its collector.
type Collector struct {
	Check string `json:"check"` // CheckFailing, CheckSilent or CheckNoActive
	// Error is the class of the latest failure (an API code or a Kafka
	// error name); Since when the collection began failing, or for a
	// silent collector when it last reported.
	Error        string    `json:"error,omitempty"`
	Since        time.Time `json:"since"`
	FailedGroups int64     `json:"failed_groups,omitempty"`
	Groups       int64     `json:"groups,omitempty"`
}

// Field names of the details, as ckafka_lag and ckafka_lag_alert.star emit
// them.
const (
	fieldLagSeconds   = "lag_seconds"
	fieldProduceRate  = "produce_rate"
	fieldConsumeRate  = "consume_rate"
	fieldDrainSeconds = "drain_seconds"
	fieldStalled      = "stalled"
	fieldGroupState   = "group_state"
	fieldGroupMembers = "group_members"
	fieldReason       = "alert_reason"
	fieldRetention    = "retention_seconds"
	fieldHeadroom     = "retention_headroom_seconds"
	fieldLossETA      = "loss_eta_seconds"
	fieldLost         = "lost_messages"
)

// HasLag reports whether the details know the lag in seconds.
func (d Details) HasLag() bool { return d.LagSeconds.Known }

// Set takes one field of a metric if it is a detail.
func (d *Details) Set(key string, v any) {
	if o := d.numeric(key); o != nil {
		o.Value, o.Known = Number(v)
		return
	}
	switch key {
	case fieldStalled:
		d.Stalled, _ = v.(bool)
	case fieldGroupState:
		d.GroupState, _ = v.(string)
	case fieldReason:
		d.Reason, _ = v.(string)
	}
}

// numeric is the detail a numeric field sets, nil for any other field.
func (d *Details) numeric(key string) *Opt {
	switch key {
	case fieldLagSeconds:
		return &d.LagSeconds
	case fieldProduceRate:
		return &d.ProduceRate
	case fieldConsumeRate:
		return &d.ConsumeRate
	case fieldDrainSeconds:
		return &d.DrainSeconds
	case fieldGroupMembers:
		return &d.GroupMembers
	case fieldRetention:
		return &d.RetentionSeconds
	case fieldHeadroom:
		return &d.HeadroomSeconds
	case fieldLossETA:
		return &d.LossETASeconds
	case fieldLost:
		return &d.LostMessages
	}
	return nil
}

// Number reads a metric's numeric field value.
func Number(v any) (float64, bool) {
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
