// Package cluster is the HA pair's replicated log: the active member
// appends what a takeover needs to a compacted one-partition topic, and
// every member reads it into a Replica. A takeover reads the log to its end
// and restores the Replica exactly as a restart restores the state file
// and its delivery journal: the state record *is* the state file's JSON,
// the delivery records are the journal's lines.
package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// Record keys. The topic is compacted, so each key's latest record is what
// survives: one state, each silence, and the deliveries not yet covered by
// a state (covered ones get a tombstone).
const (
	keyState    = "state"
	keyPart     = "s/"        // + part key (see Split)
	keyDelivery = "delivery/" // + member + "/" + seq
	keySilence  = "silence/"  // + silence ID
	keyOverride = "override/" // + roster override ID
	keyCall     = "call/"     // + VMS CallId + "/" + result: a callback a standby received
)

// CallRecord is a call's result that reached the standby's page server:
// the active member applies it (package oncall's Call* results).
type CallRecord struct {
	CallID string    `json:"call_id"`
	Result string    `json:"result"`
	At     time.Time `json:"at"`
}

func (c CallRecord) key() string { return keyCall + c.CallID + "/" + c.Result }

// StateRecord ends a save: the parts appended before it (since the last
// one) are the state as the active member saved it at At.
type StateRecord struct {
	Member     string    `json:"member"`
	Generation int32     `json:"generation"`
	At         time.Time `json:"at"`
	// Covers is the last delivery sequence number of Member that the state
	// reflects: later deliveries still apply on top of it.
	Covers uint64 `json:"covers"`
}

// DeliveryRecord is one accepted delivery, as the journal records it.
type DeliveryRecord struct {
	Member     string           `json:"member"`
	Generation int32            `json:"generation"`
	Seq        uint64           `json:"seq"`
	Delivered  notify.Delivered `json:"delivered"`
}

func deliveryKey(member string, seq uint64) string {
	return keyDelivery + member + "/" + strconv.FormatUint(seq, 10)
}

// Replica is what a member knows from the log. It is pure: records in,
// state out.
type Replica struct {
	// State is the latest save; nil before the first.
	State *StateRecord
	// Parts are the state as of State; pending are parts of a save whose
	// StateRecord has not come (a member died mid-save: never applied).
	Parts   map[string][]byte
	pending map[string][]byte
	// Deliveries are those not reflected in State, in log order.
	Deliveries []DeliveryRecord
	// Silences are every silence the log holds, by ID.
	Silences map[string]silence.Silence
	// Overrides are every roster override the log holds, by ID.
	Overrides map[string]oncall.Override
	// Calls are the call results standbys received, in log order.
	Calls []CallRecord
	// Offset is the next offset to read.
	Offset int64
}

// Apply reads one record at offset. A tombstone (nil value) of a part
// removes it with the next save; others change nothing: they only let
// compaction drop what a state already covers.
func (r *Replica) Apply(key string, value []byte, offset int64) error {
	r.Offset = offset + 1
	if part, ok := strings.CutPrefix(key, keyPart); ok {
		if r.pending == nil {
			r.pending = map[string][]byte{}
		}
		r.pending[part] = value // nil: the part is gone
		return nil
	}
	if value == nil {
		return nil
	}
	switch {
	case key == keyState:
		var s StateRecord
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("state record at offset %d: %w", offset, err)
		}
		r.State = &s
		if r.Parts == nil {
			r.Parts = map[string][]byte{}
		}
		for k, v := range r.pending {
			if v == nil {
				delete(r.Parts, k)
			} else {
				r.Parts[k] = v
			}
		}
		r.pending = nil
		// The writer read the log to its end before it wrote this (a
		// takeover does), so it reflects every other member's
		// deliveries; its own count up to Covers.
		kept := r.Deliveries[:0]
		for _, d := range r.Deliveries {
			if d.Member == s.Member && d.Seq > s.Covers {
				kept = append(kept, d)
			}
		}
		r.Deliveries = kept
	case strings.HasPrefix(key, keyDelivery):
		var d DeliveryRecord
		if err := json.Unmarshal(value, &d); err != nil {
			return fmt.Errorf("delivery record at offset %d: %w", offset, err)
		}
		if r.State != nil && d.Member == r.State.Member && d.Seq <= r.State.Covers {
			return nil // compaction kept it after its state: already in
		}
		r.Deliveries = append(r.Deliveries, d)
	case strings.HasPrefix(key, keySilence):
		var s silence.Silence
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("silence record at offset %d: %w", offset, err)
		}
		if r.Silences == nil {
			r.Silences = map[string]silence.Silence{}
		}
		r.Silences[s.ID] = silence.Merge(r.Silences[s.ID], s)
	case strings.HasPrefix(key, keyOverride):
		var o oncall.Override
		if err := json.Unmarshal(value, &o); err != nil {
			return fmt.Errorf("override record at offset %d: %w", offset, err)
		}
		if r.Overrides == nil {
			r.Overrides = map[string]oncall.Override{}
		}
		if old, ok := r.Overrides[o.ID]; ok {
			o = oncall.Merge([]oncall.Override{old}, []oncall.Override{o})[0]
		}
		r.Overrides[o.ID] = o
	case strings.HasPrefix(key, keyCall):
		var c CallRecord
		if err := json.Unmarshal(value, &c); err != nil {
			return fmt.Errorf("call record at offset %d: %w", offset, err)
		}
		r.Calls = append(r.Calls, c)
	default:
		return fmt.Errorf("record at offset %d: unknown key %q", offset, key)
	}
	return nil
}

// Journal returns the deliveries as the state file's journal records.
func (r *Replica) Journal() []notify.Delivered {
	out := make([]notify.Delivered, len(r.Deliveries))
	for i, d := range r.Deliveries {
		out[i] = d.Delivered
	}
	return out
}

// StateJSON is the state as of State, as the state file holds it.
func (r *Replica) StateJSON() ([]byte, error) { return Join(r.Parts) }

// Clone copies the replica for a reader outside the log's lock. Parts'
// values are never modified, only replaced, so they are shared.
func (r *Replica) Clone() Replica {
	c := Replica{Offset: r.Offset, State: r.State, Parts: make(map[string][]byte, len(r.Parts))}
	for k, v := range r.Parts {
		c.Parts[k] = v
	}
	if len(r.pending) > 0 {
		c.pending = make(map[string][]byte, len(r.pending))
		for k, v := range r.pending {
			c.pending[k] = v
		}
	}
	c.Deliveries = append([]DeliveryRecord(nil), r.Deliveries...)
	c.Silences = make(map[string]silence.Silence, len(r.Silences))
	for id, s := range r.Silences {
		c.Silences[id] = s
	}
	c.Overrides = make(map[string]oncall.Override, len(r.Overrides))
	for id, o := range r.Overrides {
		c.Overrides[id] = o
	}
	c.Calls = append([]CallRecord(nil), r.Calls...)
	return c
}
