package notify

import (
	"sort"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Log records, per alert and per destination, what the destination
// was actually sent (as Alertmanager's nflog does). Reminders count from a
// destination's last successful Delivery, not from when a notification
// became due, so a message that went out late (robot down, restart) is not
// followed by a reminder seconds later; and a resolution goes to exactly the
// destinations that heard of the alert. It is pure: no I/O, no clock.
type Log map[string]map[string]*LogEntry // alert key → destination ID → entry

// LogEntry is what one destination knows of one firing episode of an alert.
type LogEntry struct {
	// Since is the alert's StartedAt: it tells episodes of the same key
	// apart, so a late answer about an old episode changes nothing.
	Since time.Time `json:"since"`
	// Delivered is the last successful Delivery of a firing, escalation or
	// reminder message listing the alert; zero while none succeeded.
	Delivered time.Time   `json:"delivered,omitzero"`
	Level     alert.Level `json:"level"`
	// GaveUp is when a message was given up while none had been delivered:
	// the next reminder counts from there, so the destination hears of the
	// alert eventually.
	GaveUp time.Time `json:"gave_up,omitzero"`
	// Resolution waits for messages still in flight to this destination:
	// it is sent if one of them is delivered, dropped if all are given up.
	Resolution *alert.Notification `json:"resolution,omitempty"`
	// InFlight counts queued messages listing the alert; Reminding is set
	// while a reminder waits in the group window. Neither is saved: a
	// restart recounts them from the saved queues and window.
	InFlight  int  `json:"-"`
	Reminding bool `json:"-"`
}

// JobRef is one alert listed in a message, as the log needs it back when the
// message is delivered or given up.
type JobRef struct {
	Key   string      `json:"key"`
	Kind  alert.Kind  `json:"kind"`
	Level alert.Level `json:"level"`
	Since time.Time   `json:"since"`
}

func refOf(n alert.Notification) JobRef {
	return JobRef{Key: n.Alert.Key, Kind: n.Kind, Level: n.Alert.Level, Since: n.Alert.StartedAt}
}

func (l Log) entry(key, dest string) *LogEntry {
	if e := l[key][dest]; e != nil {
		return e
	}
	return nil
}

// queued records that a message listing n is queued for dest. A firing or
// escalation cancels a resolution still waiting: the alert fires again, so
// the destination never needs to hear it had ended.
func (l Log) queued(n alert.Notification, dest string) {
	if n.Resolved() {
		return
	}
	e := l.entry(n.Alert.Key, dest)
	if e == nil || !e.Since.Equal(n.Alert.StartedAt) {
		e = &LogEntry{Since: n.Alert.StartedAt}
		if l[n.Alert.Key] == nil {
			l[n.Alert.Key] = map[string]*LogEntry{}
		}
		l[n.Alert.Key][dest] = e
	}
	e.InFlight++
	e.Reminding = false
	e.Resolution = nil
}

// resolve returns the destinations the resolution n goes to now: those that
// were delivered a message about the alert. Destinations with a message
// still in flight and none delivered keep the resolution until it settles.
func (l Log) resolve(n alert.Notification) []string {
	var dests []string
	for dest, e := range l[n.Alert.Key] {
		switch {
		case !e.Delivered.IsZero():
			dests = append(dests, dest)
			delete(l[n.Alert.Key], dest)
		case e.InFlight > 0:
			res := n
			e.Resolution = &res
		default:
			delete(l[n.Alert.Key], dest) // never told
		}
	}
	if len(l[n.Alert.Key]) == 0 {
		delete(l, n.Alert.Key)
	}
	sort.Strings(dests)
	return dests
}

// told records that dest was delivered, at, a message listing refs whose
// job the log never saw queued (see Dispatcher.Replay). Only episodes the
// log has, or that wait in the group window (waiting, by key and start),
// are marked: a record of an episode that has since resolved changes
// nothing. An entry of a later episode, or one delivered later, is left
// alone.
func (l Log) told(dest string, refs []JobRef, at time.Time, waiting func(key string, since time.Time) bool) {
	for _, r := range refs {
		if r.Kind.Ends() {
			continue
		}
		e := l.entry(r.Key, dest)
		switch {
		case (e == nil || e.Since.Before(r.Since)) && !waiting(r.Key, r.Since):
			continue
		case e == nil:
			e = &LogEntry{Since: r.Since}
			if l[r.Key] == nil {
				l[r.Key] = map[string]*LogEntry{}
			}
			l[r.Key][dest] = e
		case e.Since.After(r.Since):
			continue
		case e.Since.Before(r.Since):
			*e = LogEntry{Since: r.Since}
		}
		if at.After(e.Delivered) {
			e.Delivered, e.Level, e.GaveUp = at, max(e.Level, r.Level), time.Time{}
		}
	}
}

// delivered reports whether dest was delivered a message about n's
// episode.
func (l Log) delivered(n alert.Notification, dest string) bool {
	e := l.entry(n.Alert.Key, dest)
	return e != nil && e.Since.Equal(n.Alert.StartedAt) && !e.Delivered.IsZero()
}

// toldOf returns the destinations that were delivered a message about the
// alert's episode that began at since.
func (l Log) toldOf(key string, since time.Time) []string {
	var out []string
	for dest, e := range l[key] {
		if e.Since.Equal(since) && !e.Delivered.IsZero() {
			out = append(out, dest)
		}
	}
	sort.Strings(out)
	return out
}

// forget drops what was told about the alert with key: it resolved and
// send_resolved is off.
func (l Log) forget(key string) { delete(l, key) }

// heard reports whether any destination was told, or is being told, about
// the alert with key.
func (l Log) heard(key string) bool { return len(l[key]) > 0 }

// settled applies the outcome of a message to dest: delivered at now, or
// given up. It returns the resolutions now due to dest (ones that were
// waiting for this message).
func (l Log) settled(dest string, refs []JobRef, delivered bool, now time.Time) []alert.Notification {
	var due []alert.Notification
	for _, r := range refs {
		if r.Kind.Ends() {
			continue // the entry went when the resolution was routed
		}
		e := l.entry(r.Key, dest)
		if e == nil || !e.Since.Equal(r.Since) {
			continue // an older episode
		}
		e.InFlight = max(e.InFlight-1, 0)
		if delivered {
			e.Delivered, e.Level, e.GaveUp = now, r.Level, time.Time{}
		} else if e.Delivered.IsZero() {
			e.GaveUp = now
		}
		if e.Resolution == nil || e.InFlight > 0 {
			continue
		}
		if !e.Delivered.IsZero() {
			res := *e.Resolution
			res.Dest = dest
			due = append(due, res)
		}
		delete(l[r.Key], dest)
		if len(l[r.Key]) == 0 {
			delete(l, r.Key)
		}
	}
	return due
}

// due returns what is due at now for a firing alert to a destination its
// route and level reach: the first message when the destination never
// heard of this episode (a silence hid it, or it is routed there since),
// or a reminder repeat after the destination's last delivery (or
// give-up). A destination whose first message is in flight gets no
// reminder before it. The entry is marked, so nothing is due again before
// the notification is queued.
func (l Log) due(a alert.Alert, dest string, repeat time.Duration, now time.Time) (alert.Notification, bool) {
	e := l.entry(a.Key, dest)
	if e == nil || !e.Since.Equal(a.StartedAt) {
		if l[a.Key] == nil {
			l[a.Key] = map[string]*LogEntry{}
		}
		l[a.Key][dest] = &LogEntry{Since: a.StartedAt, Reminding: true}
		return alert.Notification{Kind: alert.KindFiring, Alert: a, At: now, Dest: dest}, true
	}
	if repeat <= 0 || e.InFlight > 0 || e.Reminding || e.Resolution != nil {
		return alert.Notification{}, false
	}
	last := e.Delivered
	if last.IsZero() {
		last = e.GaveUp
	}
	if last.IsZero() || now.Sub(last) < repeat {
		return alert.Notification{}, false
	}
	e.Reminding = true
	return alert.Notification{Kind: alert.KindRepeat, Alert: a, At: now, Dest: dest}, true
}

// unreserve undoes due's mark when its notification is dropped before it
// is queued (a silence began in the group window): the destination is due
// again later. An entry due created and nothing else uses goes.
func (l Log) unreserve(n alert.Notification, dest string) {
	e := l.entry(n.Alert.Key, dest)
	if e == nil || !e.Since.Equal(n.Alert.StartedAt) {
		return
	}
	e.Reminding = false
	if e.Delivered.IsZero() && e.GaveUp.IsZero() && e.InFlight == 0 && e.Resolution == nil {
		delete(l[n.Alert.Key], dest)
		if len(l[n.Alert.Key]) == 0 {
			delete(l, n.Alert.Key)
		}
	}
}

// recount sets InFlight and Reminding from what is queued or pending after
// a restart.
func (l Log) recount(queues map[string][]*Job, pending []alert.Notification) {
	for _, dests := range l {
		for _, e := range dests {
			e.InFlight, e.Reminding = 0, false
		}
	}
	for dest, jobs := range queues {
		for _, j := range jobs {
			for _, r := range j.Refs {
				if e := l.entry(r.Key, dest); e != nil && e.Since.Equal(r.Since) && !r.Kind.Ends() {
					e.InFlight++
				}
			}
		}
	}
	for _, n := range pending {
		if !n.Resolved() && n.Dest != "" {
			if e := l.entry(n.Alert.Key, n.Dest); e != nil {
				e.Reminding = true
			}
		}
	}
}

// clone deep-copies the log for the state file.
func (l Log) clone() Log {
	c := make(Log, len(l))
	for key, dests := range l {
		c[key] = make(map[string]*LogEntry, len(dests))
		for dest, e := range dests {
			cp := *e
			c[key][dest] = &cp
		}
	}
	return c
}
