package notify

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// A worker delivers one channel's jobs in order, with retries, so that a
// failing channel never delays another.
type worker struct {
	d    *Dispatcher
	ch   Channel
	wake chan struct{}

	mu    sync.Mutex
	queue []*Job
}

func (w *worker) enqueue(j *Job) {
	w.push(j)
	w.wakeUp()
}

func (w *worker) push(j *Job) {
	w.mu.Lock()
	w.queue = append(w.queue, j)
	w.mu.Unlock()
}

// release lets the worker deliver the jobs held until they were saved.
func (w *worker) release() {
	w.mu.Lock()
	for _, j := range w.queue {
		j.unsaved = false
	}
	w.mu.Unlock()
	w.wakeUp()
}

func (w *worker) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) head() *Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 || w.queue[0].unsaved {
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
		delivered, stopped := w.deliver(ctx, j)
		if stopped {
			return // the job stays queued
		}
		w.settle(j, delivered)
	}
}

// settle records the job's outcome in the delivery log and unqueues it,
// under one lock so the state file never sees one without the other.
// Resolutions that waited for this job go into the group window.
func (w *worker) settle(j *Job, delivered bool) {
	d := w.d
	now := time.Now()
	d.mu.Lock()
	due := d.sent.settled(w.ch.ID(), j.Refs, delivered, now)
	w.pop()
	d.addLocked(due)
	d.mu.Unlock()
	d.Recorder.Changed(true)
}

// deliver sends the job's remaining deliveries with retries. It reports
// whether every Delivery succeeded, or that ctx ended first.
func (w *worker) deliver(ctx context.Context, j *Job) (delivered, stopped bool) {
	d := w.d
	for j.Next < len(j.Deliveries) {
		for attempt := 1; ; attempt++ {
			if !w.mayDeliver(ctx) {
				return false, true
			}
			actx, cancel := context.WithTimeout(ctx, d.Timeout)
			w.mu.Lock()
			dl := j.Deliveries[j.Next]
			w.mu.Unlock()
			phones := len(dl.Phones)
			err := w.ch.Deliver(actx, &dl)
			accepted := time.Now()
			cancel()
			w.mu.Lock()
			j.Deliveries[j.Next] = dl
			if err == nil {
				j.Next++
			}
			next := j.Next
			w.mu.Unlock()
			if err == nil {
				// Recorded before anything else: until the journal has it,
				// a kill sends the message again after the restart.
				d.Recorder.Delivered(Delivered{Dest: w.ch.ID(), Created: j.Created, Next: next, At: accepted, Refs: j.Refs,
					Done: next == len(j.Deliveries)})
				d.log.Debugf("%s: delivered message with %d alert(s)", w.ch.ID(), j.Alerts)
				if next < len(j.Deliveries) {
					d.Recorder.Changed(true)
				}
				break
			}
			// A partial success (SMS numbers that went through) narrowed
			// the delivery: record it at once, so a restart does not send
			// to them again.
			if err != nil && len(dl.Phones) < phones {
				d.Recorder.Delivered(Delivered{Dest: w.ch.ID(), Created: j.Created, Next: j.Next, Phones: dl.Phones, At: accepted, Refs: j.Refs})
				d.Recorder.Changed(true)
			}
			if ctx.Err() != nil {
				return false, true
			}
			retry, wait := Classify(err, backoff(d.RetryBase, attempt))
			if !retry || attempt > d.MaxRetries {
				d.log.Errorf("%s: giving up on a message with %d alert(s) after %d attempt(s): %v", w.ch.ID(), j.Alerts, attempt, err)
				return false, false
			}
			d.log.Warnf("%s: attempt %d failed, retrying in %s: %v", w.ch.ID(), attempt, wait.Round(time.Millisecond), err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, true
			case <-t.C:
			}
		}
	}
	return true, false
}

// fencePoll is how often a fenced worker asks again.
const fencePoll = 100 * time.Millisecond

// mayDeliver waits until the dispatcher may deliver; false when ctx ended
// first.
func (w *worker) mayDeliver(ctx context.Context) bool {
	for w.d.Fence != nil && !w.d.Fence.MayDeliver() {
		t := time.NewTimer(fencePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
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
