package notify

import (
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Quiet hours: what a destination holds while its window is open, and the
// digest it gets when the window ends. d.mu is held by every caller.

// QuietHours hold notifications below a level during windows of the day.
type QuietHours interface {
	Active(now time.Time) bool
	Holds(level alert.Level, now time.Time) bool
}

// noQuiet is the quiet hours of a destination that has none.
type noQuiet struct{}

func (noQuiet) Active(time.Time) bool             { return false }
func (noQuiet) Holds(alert.Level, time.Time) bool { return false }

func (d *Dispatcher) quiet(dest string) QuietHours {
	if d.Router == nil {
		return noQuiet{}
	}
	if q := d.Router.Quiet(dest); q != nil {
		return q
	}
	return noQuiet{}
}

// digests turn what each destination held during quiet hours that ended
// into one message: what still fires, and in one line each what fired and
// resolved in between. d.mu is held.
func (d *Dispatcher) digests(alerts []alert.Alert, now time.Time) []alert.Notification {
	firing := make(map[string]alert.Alert, len(alerts))
	for _, a := range alerts {
		firing[a.Key] = a
	}
	var out []alert.Notification
	for dest, held := range d.held {
		if d.quiet(dest).Active(now) {
			continue
		}
		delete(d.held, dest)
		latest := map[string]alert.Notification{}
		var order []string
		for _, n := range held {
			if _, seen := latest[n.Alert.Key]; !seen {
				order = append(order, n.Alert.Key)
			}
			latest[n.Alert.Key] = n
		}
		for _, key := range order {
			n := latest[key]
			if a, ok := firing[key]; ok {
				if d.silenced(a, now) {
					continue
				}
				n = alert.Notification{Kind: alert.KindFiring, Alert: a, At: now}
			} else if !n.Resolved() {
				continue // ended without a resolution (send_resolved off)
			}
			n.Dest = dest
			out = append(out, n)
		}
	}
	return out
}

// holdResolution records the end of an alert that a destination holds for
// its digest, so the digest says it fired and resolved; it returns those
// destinations. d.mu is held.
func (d *Dispatcher) holdResolution(n alert.Notification) map[string]bool {
	out := map[string]bool{}
	for dest := range d.held {
		if d.heldKey(dest, n.Alert.Key) {
			d.held[dest] = append(d.held[dest], n)
			out[dest] = true
		}
	}
	return out
}

// heldKey reports whether dest holds a notification of the alert.
func (d *Dispatcher) heldKey(dest, key string) bool {
	for _, n := range d.held[dest] {
		if n.Alert.Key == key {
			return true
		}
	}
	return false
}
