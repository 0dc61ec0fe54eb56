package notify

import (
	"slices"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// State is what the dispatcher keeps in the state file.
type State struct {
	Sent    Log                  `json:"sent"`    // alert key → channel ID → what it was sent
	Pending []alert.Notification `json:"pending"` // inside the group_wait window
	Queues  map[string][]*Job    `json:"queues"`  // channel ID → undelivered jobs
	// Held are notifications held in quiet hours, by destination.
	Held map[string][]alert.Notification `json:"held,omitempty"`
	// Paced are the recent sends of rate-limited channels (see Paced).
	Paced map[string][]time.Time `json:"paced,omitempty"`
}

// Snapshot copies what the state file keeps, under one lock so the
// delivery log and the queues agree.
func (d *Dispatcher) Snapshot() State {
	var s State
	d.mu.Lock()
	defer d.mu.Unlock()
	s.Pending = append([]alert.Notification(nil), d.pending...)
	s.Sent = d.sent.clone()
	s.Held = make(map[string][]alert.Notification, len(d.held))
	for dest, notes := range d.held {
		s.Held[dest] = append([]alert.Notification(nil), notes...)
	}
	s.Queues = map[string][]*Job{}
	for _, w := range d.workers {
		if p, ok := w.ch.(Paced); ok {
			if sent := p.Pacer().Sent(); len(sent) > 0 {
				if s.Paced == nil {
					s.Paced = map[string][]time.Time{}
				}
				s.Paced[w.ch.ID()] = sent
			}
		}
		w.mu.Lock()
		if len(w.queue) > 0 {
			q := make([]*Job, len(w.queue))
			for i, j := range w.queue {
				c := *j
				c.Deliveries = append([]Delivery(nil), j.Deliveries...)
				q[i] = &c
			}
			s.Queues[w.ch.ID()] = q
		}
		w.mu.Unlock()
	}
	return s
}

// Restore reloads a snapshot; queues of channels no longer configured are
// reported and dropped.
func (d *Dispatcher) Restore(s State) {
	byID := map[string]*worker{}
	for _, w := range d.workers {
		byID[w.ch.ID()] = w
	}
	for id, sent := range s.Paced {
		if w := byID[id]; w != nil {
			if p, ok := w.ch.(Paced); ok {
				p.Pacer().Restore(sent)
			}
		}
	}
	queues := map[string][]*Job{}
	for id, jobs := range s.Queues {
		if _, ok := byID[id]; !ok {
			d.log.Warnf("State file: dropping %d undelivered message(s) for %s, which is no longer configured", len(jobs), id)
			continue
		}
		queues[id] = jobs
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.Sent != nil {
		d.sent = s.Sent
	}
	for dest, notes := range s.Held {
		d.held[dest] = append(d.held[dest], notes...)
	}
	d.sent.recount(queues, s.Pending)
	d.addLocked(s.Pending)
	for id, jobs := range queues {
		for _, j := range jobs {
			byID[id].enqueue(j)
		}
	}
}

// Delivered is one record of the delivery journal: the job created at
// Created for channel Dest had its first Next deliveries accepted by At
// (and, with Phones, delivery Next part of its numbers).
type Delivered struct {
	Dest    string    `json:"dest"`
	Created time.Time `json:"created"`
	Next    int       `json:"next"`
	// Phones, when set, are the numbers delivery Next still has to reach:
	// the others accepted it.
	Phones []string  `json:"phones,omitempty"`
	At     time.Time `json:"at"` // when the receiver's answer arrived
	// Refs are the alerts the job tells. A record whose job the restored
	// state never saw (it was saved while the message still waited in the
	// group window) settles them in the log: the destination heard of
	// those alerts, so it is owed their resolution, and their first
	// message is not sent again. Records of 0.x have none.
	Refs []JobRef `json:"refs,omitempty"`
	// Done: this record completes its job (every part, every number). Only
	// then did the destination hear of every alert in Refs: a message
	// split in parts lists some alerts in the later ones.
	Done bool `json:"done,omitempty"`
}

// waiting reports whether a notification of the alert's episode that
// began at since waits in the group window; d.mu is held.
func (d *Dispatcher) waiting(key string, since time.Time) bool {
	return slices.ContainsFunc(d.pending, func(n alert.Notification) bool {
		return n.Alert.Key == key && n.Alert.StartedAt.Equal(since)
	})
}

// Replay applies journal records to a restored state: a job whose
// deliveries a record says were accepted is settled as delivered (or
// advanced past them), so a restart does not send it again. A record that
// finds no job either is one the state already reflects, or one of a job
// created after the state was saved (from notifications the state still
// has in the group window): its refs mark the destination as told, which
// changes nothing in the first case. Call it after Restore, before Run.
func (d *Dispatcher) Replay(records []Delivered) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range records {
		for _, w := range d.workers {
			if w.ch.ID() != r.Dest {
				continue
			}
			w.mu.Lock()
			i := slices.IndexFunc(w.queue, func(j *Job) bool { return j.Created.Equal(r.Created) })
			w.mu.Unlock()
			if i < 0 {
				if r.Done {
					d.sent.told(r.Dest, r.Refs, r.At, d.waiting)
				}
				break
			}
			w.mu.Lock()
			j := w.queue[i]
			j.Next = max(j.Next, min(r.Next, len(j.Deliveries)))
			if r.Phones != nil && r.Next == j.Next && j.Next < len(j.Deliveries) && len(r.Phones) < len(j.Deliveries[j.Next].Phones) {
				j.Deliveries[j.Next].Phones = r.Phones
			}
			done := j.Next == len(j.Deliveries)
			if done {
				w.queue = slices.Delete(w.queue, i, i+1)
			}
			w.mu.Unlock()
			if done {
				d.addLocked(d.sent.settled(r.Dest, j.Refs, true, r.At))
			}
		}
	}
}
