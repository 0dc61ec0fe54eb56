package notify

import (
	"context"
	"sync"
	"text/template"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// job is one message for one channel: its deliveries (a long message may
// need several), how far it got, and the alerts it lists, for the delivery
// log.
type Job struct {
	Deliveries []Delivery `json:"deliveries"`
	Next       int        `json:"next"` // deliveries done
	Alerts     int        `json:"alerts"`
	Refs       []JobRef   `json:"refs,omitempty"`
	Created    time.Time  `json:"created"`
	// unsaved holds a new job back until the state file lists it.
	unsaved bool
}

// Options are the dispatcher's settings.
type Options struct {
	Lang         string
	Dashboard    *template.Template // dashboard_url, or nil
	GroupWait    time.Duration
	StaleAfter   time.Duration
	Repeat       time.Duration // repeat_interval; 0: no reminders
	SendResolved bool
	MaxRetries   int
	RetryBase    time.Duration // first backoff step
	Timeout      time.Duration // per delivery attempt
	// Router picks each firing alert's channels and their quiet hours;
	// nil sends every alert to every channel, at any hour.
	Router Router
	// Silencer mutes alerts: a muted alert is tracked but notifies
	// nobody. Nil: nothing is silenced.
	Silencer Silencer
	// Charts draws a message's lag chart; nil draws none.
	Charts *render.Charts
	// Location is where messages' times of day are told (timezone);
	// nil is the local zone.
	Location *time.Location
	// Recorder hears of state changes and deliveries and gives fresh
	// chart histories; nil hears nothing.
	Recorder Recorder
	// Linker adds action links to robot and email messages; nil: none.
	Linker Linker
	// Mentioner names the people robot messages mention; nil: nobody.
	Mentioner Mentioner
	// Fence, when set, is asked before each delivery attempt: the HA
	// pair's fencing. While it says no, the worker holds its queue (no
	// attempt is spent) and asks again.
	Fence Fence
}

// Router is where alerts go (routes and quiet hours).
type Router interface {
	// Route returns the IDs of the channels a firing alert goes to,
	// before their min_level.
	Route(a alert.Alert) []string
	// Quiet returns the quiet hours of a destination, or nil.
	Quiet(dest string) QuietHours
}

// Silencer reports whether a silence mutes the alert with this key at now.
type Silencer interface {
	Silenced(key string, now time.Time) bool
}

// Mentioner returns who a message about these firing alerts mentions:
// the people on call for them.
type Mentioner interface {
	Mentions(keys []string, now time.Time) []render.Mention
}

// Fence says whether this process may deliver now.
type Fence interface {
	MayDeliver() bool
}

// Recorder is the dispatcher's owner: what it is told and what it is asked.
type Recorder interface {
	// Changed is told when the state changed; urgent after a delivery,
	// when a kill must not cause a duplicate.
	Changed(urgent bool)
	// Delivered is told of each accepted delivery the moment its answer
	// arrives, before the delivery log or Changed: a journal written
	// there closes most of the gap between a receiver accepting a message
	// and the state file saying so (see Replay).
	Delivered(Delivered)
	// History returns a firing alert's chart history as it is now, so a
	// message charts what was observed until it was sent, not until it
	// became due; false keeps the history the notification carries. It
	// is called without the dispatcher's lock.
	History(key string) ([]alert.Point, bool)
}

// Linker returns the action links of a firing alert for a destination.
type Linker interface {
	Links(dest string, v render.AlertView) []render.Link
}

// noRecorder hears nothing.
type noRecorder struct{}

func (noRecorder) Changed(bool)                         {}
func (noRecorder) Delivered(Delivered)                  {}
func (noRecorder) History(string) ([]alert.Point, bool) { return nil, false }

// Dispatcher groups due notifications for group_wait, routes them to the
// channels (by route and min_level; reminders and resolutions after the
// delivery log), and runs one worker per channel, so a failing channel
// never delays another.
type Dispatcher struct {
	log telegraf.Logger
	Options

	mu         sync.Mutex // guards pending, groupTimer, sent; taken before a worker's mu
	pending    []alert.Notification
	groupTimer *time.Timer
	sent       Log
	held       map[string][]alert.Notification // destination → held in its quiet hours
	chartErr   sync.Once
	workers    []*worker
}

// New returns a dispatcher over the channels; Run starts its workers.
func New(channels []Channel, log telegraf.Logger, o Options) *Dispatcher {
	if o.Recorder == nil {
		o.Recorder = noRecorder{}
	}
	d := &Dispatcher{log: log, Options: o, sent: Log{}, held: map[string][]alert.Notification{}}
	for _, ch := range channels {
		d.workers = append(d.workers, &worker{d: d, ch: ch, wake: make(chan struct{}, 1)})
	}
	return d
}

// Add queues due notifications; the first one opens the group_wait window.
func (d *Dispatcher) Add(notes ...alert.Notification) {
	if len(notes) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addLocked(notes)
}

func (d *Dispatcher) addLocked(notes []alert.Notification) {
	if len(notes) == 0 {
		return
	}
	if len(d.pending) == 0 {
		if d.groupTimer != nil {
			d.groupTimer.Stop()
		}
		// The window counts from the oldest notification: one restored
		// after a restart, or a resolution that waited for a delivery, is
		// not held a whole group_wait again (a process killed every few
		// seconds would otherwise never send it).
		oldest := notes[0].At
		for _, n := range notes[1:] {
			if n.At.Before(oldest) {
				oldest = n.At
			}
		}
		wait := d.GroupWait
		if !oldest.IsZero() {
			wait = min(wait, max(0, d.GroupWait-time.Since(oldest)))
		}
		d.groupTimer = time.AfterFunc(wait, d.Flush)
	}
	d.pending = append(d.pending, notes...)
	d.Recorder.Changed(false)
}

// Remind adds what time makes due at now for the firing alerts: reminders,
// the first message to destinations that never heard of an alert (its
// silence ended, or it was routed there since), and the digest of each
// destination whose quiet hours ended.
func (d *Dispatcher) Remind(alerts []alert.Alert, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Digests first: what they list is then pending, not due again.
	d.addLocked(d.digests(alerts, now))
	var notes []alert.Notification
	pending := make(map[string]bool, len(d.pending))
	for _, n := range d.pending {
		pending[n.Alert.Key] = true
	}
	for _, a := range alerts {
		if pending[a.Key] || d.silenced(a, now) || a.ClaimedBy != "" {
			continue // a claimed alert is someone's: no reminders
		}
		for _, dest := range d.destinations(a) {
			if d.quiet(dest).Holds(a.Level, now) || d.kindOf(dest) == "voice" {
				continue
			}
			if n, ok := d.sent.due(a, dest, d.Repeat, now); ok {
				notes = append(notes, n)
			}
		}
	}
	d.addLocked(notes)
}

// destinations are the channels a firing alert goes to now: its route's,
// those whose min_level its level meets.
func (d *Dispatcher) destinations(a alert.Alert) []string {
	var routed map[string]bool
	if d.Router != nil {
		routed = map[string]bool{}
		for _, id := range d.Router.Route(a) {
			routed[id] = true
		}
	}
	var out []string
	for _, w := range d.workers {
		id := w.ch.ID()
		if a.Level >= w.ch.MinLevel() && (routed == nil || routed[id]) {
			out = append(out, id)
		}
	}
	return out
}

func (d *Dispatcher) silenced(a alert.Alert, now time.Time) bool {
	return d.Silencer != nil && d.Silencer.Silenced(a.Key, now)
}

// Flush closes the group: one message per channel. Routing and queueing
// happen under one lock, so a snapshot never sees the delivery log and the
// queues disagree.
func (d *Dispatcher) Flush() {
	fresh := d.freshHistories()
	d.mu.Lock()
	notes := d.pending
	d.pending = nil
	if d.groupTimer != nil {
		d.groupTimer.Stop()
		d.groupTimer = nil
	}
	routed := d.route(notes, time.Now())
	var due []alert.Notification
	var woken []*worker
	for _, w := range d.workers {
		batch := routed[w.ch.ID()]
		if len(batch) == 0 {
			continue
		}
		refs := make([]JobRef, len(batch))
		for i, n := range batch {
			refs[i] = refOf(n)
			if h, ok := fresh[n.Alert.Key]; ok && !n.Resolved() {
				batch[i].Alert.History = h
			}
		}
		data := d.builder().Build(batch)
		d.link(w.ch, data)
		d.mention(data)
		if err := data.LinkDashboards(d.Dashboard); err != nil {
			d.log.Errorf("Rendering dashboard_url: %v", err)
		}
		d.chart(data)
		deliveries, err := w.ch.Prepare(data)
		if err != nil {
			d.log.Errorf("%s: %v", w.ch.ID(), err)
			due = append(due, d.sent.settled(w.ch.ID(), refs, false, time.Now())...)
			continue
		}
		w.push(&Job{Deliveries: deliveries, Alerts: len(batch), Refs: refs, Created: time.Now(), unsaved: true})
		woken = append(woken, w)
	}
	d.addLocked(due)
	d.mu.Unlock()
	if len(notes) > 0 {
		// Saved before any worker starts: a job must be in the state file
		// before it can be delivered, or the delivery journal could not
		// name it after a kill.
		d.Recorder.Changed(true)
	}
	for _, w := range woken {
		w.release()
	}
}

// freshHistories returns the current chart history of each pending
// notification's alert that still fires.
func (d *Dispatcher) freshHistories() map[string][]alert.Point {
	if _, none := d.Recorder.(noRecorder); none {
		return nil
	}
	d.mu.Lock()
	keys := make([]string, 0, len(d.pending))
	for _, n := range d.pending {
		keys = append(keys, n.Alert.Key)
	}
	d.mu.Unlock()
	fresh := make(map[string][]alert.Point, len(keys))
	for _, k := range keys {
		if h, ok := d.Recorder.History(k); ok {
			fresh[k] = h
		}
	}
	return fresh
}

// route decides which channels hear each notification and records it in
// the delivery log; d.mu is held. An alert that fired and resolved inside
// one window, unheard by anyone, is dropped whole: flapping within
// group_wait is not news. A channel lists each alert once, as its latest
// notification in the window says.
func (d *Dispatcher) route(notes []alert.Notification, now time.Time) map[string][]alert.Notification {
	unheardResolved := map[string]bool{}
	for _, n := range notes {
		if n.Resolved() && n.Dest == "" && !d.sent.heard(n.Alert.Key) {
			unheardResolved[n.Alert.Key] = true
		}
	}
	configured := map[string]bool{}
	kinds := map[string]string{}
	for _, w := range d.workers {
		configured[w.ch.ID()] = true
		kinds[w.ch.ID()] = w.ch.Kind()
	}
	perDest := map[string]map[string]alert.Notification{}
	put := func(dest string, n alert.Notification) {
		if !configured[dest] || (kinds[dest] == "voice" && !callWorthy(n.Kind)) {
			return
		}
		if perDest[dest] == nil {
			perDest[dest] = map[string]alert.Notification{}
		}
		perDest[dest][n.Alert.Key] = n
	}
	hold := func(dest string, n alert.Notification) {
		d.held[dest] = append(d.held[dest], n)
	}
	for _, n := range notes {
		silenced := d.silenced(n.Alert, now)
		switch {
		case unheardResolved[n.Alert.Key]:
			if n.Resolved() {
				d.holdResolution(n) // it may have fired in quiet hours
			}
		case n.Kind == alert.KindClaimed:
			// Told once to the destinations that heard of the alert.
			for _, dest := range d.sent.toldOf(n.Alert.Key, n.Alert.StartedAt) {
				if kinds[dest] != "sms" && kinds[dest] != "voice" {
					put(dest, n)
				}
			}
		case n.Dest != "" && silenced:
			d.sent.unreserve(n, n.Dest)
		case n.Dest != "":
			put(n.Dest, n) // a reminder, a digest line, or a resolution that waited for a delivery
		case n.Resolved() && (silenced || !d.SendResolved):
			// A silenced alert notifies nobody, its end included.
			d.sent.forget(n.Alert.Key)
			d.holdResolution(n)
		case n.Resolved():
			held := d.holdResolution(n)
			told := map[string]bool{}
			for _, dest := range d.sent.resolve(n) {
				told[dest] = true
				// An end is as urgent as the alert was: a critical one's
				// passes through quiet hours.
				if d.quiet(dest).Holds(n.Alert.NotifiedLevel, now) {
					if !held[dest] {
						hold(dest, n)
					}
					continue
				}
				put(dest, n)
			}
			// A destination about to hear of the alert for the first time
			// in this window (e.g. its escalation, on an SMS channel taking
			// critical only) has nothing to hear: it is over, and it would
			// never be told so.
			for dest, byKey := range perDest {
				if !told[dest] {
					delete(byKey, n.Alert.Key)
				}
			}
		case silenced:
		default:
			for _, dest := range d.destinations(n.Alert) {
				if n.Kind == alert.KindFiring && d.sent.delivered(n, dest) {
					// A restored first message that a record says went
					// out after the state was saved (Replay): not again.
					continue
				}
				if d.quiet(dest).Holds(n.Alert.Level, now) {
					hold(dest, n)
					continue
				}
				put(dest, n)
			}
		}
	}
	out := make(map[string][]alert.Notification, len(perDest))
	for dest, byKey := range perDest {
		for _, n := range byKey {
			d.sent.queued(n, dest)
			out[dest] = append(out[dest], n)
		}
	}
	return out
}

// link adds the action links to the firing alerts of a message for ch.
func (d *Dispatcher) link(ch Channel, data *render.TemplateData) {
	if d.Linker == nil || ch.Kind() == "sms" || ch.Kind() == "voice" {
		return
	}
	for i := range data.Alerts {
		v := &data.Alerts[i]
		if !v.Resolved && v.Kind != string(alert.KindClaimed) && v.Collector == "" && v.ClaimedBy == "" {
			v.Links = d.Linker.Links(ch.ID(), *v)
		}
	}
	if len(data.Alerts) > 0 {
		data.First = data.Alerts[0]
	}
}

// callWorthy reports whether a notification of kind is worth a phone
// call: news of an alert, not its reminders, end or claim.
func callWorthy(k alert.Kind) bool { return k == alert.KindFiring || k == alert.KindEscalated }

func (d *Dispatcher) kindOf(id string) string {
	for _, w := range d.workers {
		if w.ch.ID() == id {
			return w.ch.Kind()
		}
	}
	return ""
}

// mention names the people on call for the message's firing alerts.
func (d *Dispatcher) mention(data *render.TemplateData) {
	if d.Mentioner == nil {
		return
	}
	var keys []string
	for _, v := range data.Alerts {
		if !v.Resolved && v.Kind != string(alert.KindClaimed) && v.ClaimedBy == "" {
			keys = append(keys, v.Key)
		}
	}
	if len(keys) > 0 {
		data.Mentions = d.Mentioner.Mentions(keys, time.Now())
	}
}

// chart draws the message's chart; a failure is logged once and the
// message goes without it.
func (d *Dispatcher) chart(data *render.TemplateData) {
	png, err := d.Charts.Render(data)
	if err != nil {
		d.chartErr.Do(func() { d.log.Errorf("Drawing the lag chart (messages go without it): %v", err) })
		return
	}
	data.Chart = png
}

// Run starts the workers; they stop when ctx is cancelled, leaving
// undelivered jobs queued for the state file.
func (d *Dispatcher) Run(ctx context.Context, wg *sync.WaitGroup) {
	for _, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
}

// Idle reports whether nothing is pending or queued.
func (d *Dispatcher) Idle() bool {
	d.mu.Lock()
	pending := len(d.pending)
	d.mu.Unlock()
	if pending > 0 {
		return false
	}
	for _, w := range d.workers {
		w.mu.Lock()
		queued := len(w.queue)
		w.mu.Unlock()
		if queued > 0 {
			return false
		}
	}
	return true
}

// builder builds the messages' data from the dispatcher's options.
func (d *Dispatcher) builder() render.Builder {
	return render.Builder{Lang: d.Lang, StaleAfter: d.StaleAfter, Location: d.Location}
}
