package wecom_sms_mail

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
)

// job is one message for one channel: its deliveries (a long message may
// need several) and how far it got.
type job struct {
	Deliveries []delivery `json:"deliveries"`
	Next       int        `json:"next"` // deliveries done
	Alerts     int        `json:"alerts"`
	Created    time.Time  `json:"created"`
}

// dispatcher groups due notifications for group_wait, routes them to the
// channels by min_level (resolutions to the channels that were told), and
// runs one worker per channel, so a failing channel never delays another.
type dispatcher struct {
	log        telegraf.Logger
	lang       string
	groupWait  time.Duration
	staleAfter time.Duration
	maxRetries int
	retryBase  time.Duration
	timeout    time.Duration
	onChange   func(urgent bool) // state changed; urgent after a delivery

	mu         sync.Mutex
	pending    []Notification
	groupTimer *time.Timer
	told       map[string]map[string]bool
	workers    []*worker
}

type worker struct {
	d    *dispatcher
	ch   channel
	wake chan struct{}

	mu    sync.Mutex
	queue []*job
}

func newDispatcher(channels []channel, log telegraf.Logger) *dispatcher {
	d := &dispatcher{log: log, told: map[string]map[string]bool{}, onChange: func(bool) {}}
	for _, ch := range channels {
		d.workers = append(d.workers, &worker{d: d, ch: ch, wake: make(chan struct{}, 1)})
	}
	return d
}

// add queues due notifications; the first one opens the group_wait window.
func (d *dispatcher) add(notes ...Notification) {
	if len(notes) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		if d.groupTimer != nil {
			d.groupTimer.Stop()
		}
		d.groupTimer = time.AfterFunc(d.groupWait, d.flush)
	}
	d.pending = append(d.pending, notes...)
	d.onChange(false)
}

// flush closes the group: one message per channel. Routing and queueing
// happen under one lock, so a snapshot never sees an alert marked as told
// whose message is not queued yet.
func (d *dispatcher) flush() {
	d.mu.Lock()
	notes := d.pending
	d.pending = nil
	if d.groupTimer != nil {
		d.groupTimer.Stop()
		d.groupTimer = nil
	}
	routed := d.route(notes)
	for _, w := range d.workers {
		batch := routed[w.ch.ID()]
		if len(batch) == 0 {
			continue
		}
		data := buildData(batch, d.lang, d.staleAfter)
		deliveries, err := w.ch.Prepare(data)
		if err != nil {
			d.log.Errorf("%s: %v", w.ch.ID(), err)
			continue
		}
		w.enqueue(&job{Deliveries: deliveries, Alerts: len(batch), Created: time.Now()})
	}
	d.mu.Unlock()
	if len(notes) > 0 {
		d.onChange(true)
	}
}

// route decides which channels hear each notification; d.mu is held.
// An alert that fired and resolved inside one window, unheard by anyone,
// is dropped whole: flapping within group_wait is not news.
func (d *dispatcher) route(notes []Notification) map[string][]Notification {
	unheardResolved := map[string]bool{}
	for _, n := range notes {
		if n.Resolved() && len(d.told[n.Alert.Key]) == 0 {
			unheardResolved[n.Alert.Key] = true
		}
	}
	out := map[string][]Notification{}
	for _, n := range notes {
		key := n.Alert.Key
		if unheardResolved[key] {
			continue
		}
		if n.Resolved() {
			for id := range d.told[key] {
				out[id] = append(out[id], n)
			}
			delete(d.told, key)
			continue
		}
		for _, w := range d.workers {
			if n.Alert.Level < w.ch.MinLevel() {
				continue
			}
			id := w.ch.ID()
			out[id] = append(out[id], n)
			if d.told[key] == nil {
				d.told[key] = map[string]bool{}
			}
			d.told[key][id] = true
		}
	}
	return out
}

// run starts the workers; they stop when ctx is cancelled, leaving
// undelivered jobs queued for the state file.
func (d *dispatcher) run(ctx context.Context, wg *sync.WaitGroup) {
	for _, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
}

func (w *worker) enqueue(j *job) {
	w.mu.Lock()
	w.queue = append(w.queue, j)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) head() *job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	return w.queue[0]
}

func (w *worker) pop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = w.queue[1:]
}

func (w *worker) run(ctx context.Context) {
	for {
		j := w.head()
		if j == nil {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		if !w.deliver(ctx, j) {
			return // stopping: the job stays queued
		}
		w.pop()
		w.d.onChange(true)
	}
}

// deliver sends the job's remaining deliveries with retries. It returns
// false only when ctx ends first.
func (w *worker) deliver(ctx context.Context, j *job) bool {
	d := w.d
	for j.Next < len(j.Deliveries) {
		for attempt := 1; ; attempt++ {
			actx, cancel := context.WithTimeout(ctx, d.timeout)
			w.mu.Lock()
			dl := j.Deliveries[j.Next]
			w.mu.Unlock()
			err := w.ch.Deliver(actx, &dl)
			cancel()
			w.mu.Lock()
			j.Deliveries[j.Next] = dl
			if err == nil {
				j.Next++
			}
			w.mu.Unlock()
			if err == nil {
				d.log.Debugf("%s: delivered message with %d alert(s)", w.ch.ID(), j.Alerts)
				if j.Next < len(j.Deliveries) {
					d.onChange(true)
				}
				break
			}
			// A partial success (SMS numbers that went through) narrowed
			// the delivery: save it so a restart does not resend to them.
			d.onChange(false)
			if ctx.Err() != nil {
				return false
			}
			retry, wait := retryDelay(err, backoff(d.retryBase, attempt))
			if !retry || attempt > d.maxRetries {
				d.log.Errorf("%s: giving up on a message with %d alert(s) after %d attempt(s): %v", w.ch.ID(), j.Alerts, attempt, err)
				return true
			}
			d.log.Warnf("%s: attempt %d failed, retrying in %s: %v", w.ch.ID(), attempt, wait.Round(time.Millisecond), err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
		}
	}
	return true
}

// backoff is exponential with full jitter over its upper half:
// base·2^(n−1) · [0.5, 1).
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 16)
	return d/2 + rand.N(d/2+1)
}

// idle reports whether nothing is pending or queued.
func (d *dispatcher) idle() bool {
	d.mu.Lock()
	pending := len(d.pending)
	d.mu.Unlock()
	if pending > 0 {
		return false
	}
	for _, w := range d.workers {
		if w.head() != nil {
			return false
		}
	}
	return true
}

// snapshot copies what the state file keeps.
func (d *dispatcher) snapshot(s *savedState) {
	d.mu.Lock()
	s.Pending = append([]Notification(nil), d.pending...)
	s.Told = make(map[string][]string, len(d.told))
	for key, ids := range d.told {
		list := make([]string, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		sort.Strings(list)
		s.Told[key] = list
	}
	d.mu.Unlock()
	s.Queues = map[string][]*job{}
	for _, w := range d.workers {
		w.mu.Lock()
		if len(w.queue) > 0 {
			q := make([]*job, len(w.queue))
			for i, j := range w.queue {
				c := *j
				c.Deliveries = append([]delivery(nil), j.Deliveries...)
				q[i] = &c
			}
			s.Queues[w.ch.ID()] = q
		}
		w.mu.Unlock()
	}
}

// restore reloads a snapshot; queues of channels no longer configured are
// reported and dropped.
func (d *dispatcher) restore(s *savedState) {
	d.mu.Lock()
	for key, ids := range s.Told {
		d.told[key] = map[string]bool{}
		for _, id := range ids {
			d.told[key][id] = true
		}
	}
	d.mu.Unlock()
	d.add(s.Pending...)
	byID := map[string]*worker{}
	for _, w := range d.workers {
		byID[w.ch.ID()] = w
	}
	for id, jobs := range s.Queues {
		w, ok := byID[id]
		if !ok {
			d.log.Warnf("State file: dropping %d undelivered message(s) for %s, which is no longer configured", len(jobs), id)
			continue
		}
		for _, j := range jobs {
			w.enqueue(j)
		}
	}
}
