package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/atomicfile"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
)

// journal is the delivery journal beside the state file: a JSON line per
// accepted delivery, appended the moment the dispatcher knows of it. The
// state file is rewritten after every delivery too, but that takes a
// snapshot, an encode and an fsync: a kill in between would send the
// message again after the restart. An append closes most of that gap. It
// is not synced (it guards against a kill; the state file's fsync guards
// against a crash), and it is emptied once a state file saved after its
// lines is written.
type journal struct {
	path string
	log  telegraf.Logger

	// replicated: the HA pair's log, not this file, is what makes a
	// delivery durable against this host's death: the pair logs the
	// "recorded" line once the log has it.
	replicated bool

	mu       sync.Mutex
	appended uint64 // lines appended by this process
	failing  bool   // an append failed; logged once until one works
}

func (j *journal) append(r notify.Delivered) {
	line, err := json.Marshal(r)
	if err != nil {
		j.log.Errorf("Delivery journal: %v", err)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.appended++
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write(append(line, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	switch {
	case err != nil && !j.failing:
		j.failing = true
		j.log.Errorf("Delivery journal: %v (the state file still records deliveries)", err)
	case err == nil:
		j.failing = false
		if !j.replicated {
			LogRecorded(j.log, r, time.Now())
		}
	}
}

// Recorded is the debug line logged once a delivery is durable against a
// kill: when the receiver's answer arrived and when the journal append
// (with the HA pair: the cluster log's) returned. The chaos run reads it as evidence (a repeat of a recorded
// delivery is a duplicate, however close the kill) and for the accept →
// durable window.
type Recorded struct {
	Dest     string          `json:"dest"`
	Accepted time.Time       `json:"accepted"`
	Recorded time.Time       `json:"recorded"`
	Alerts   []notify.JobRef `json:"alerts"`
	// Phones, when set, are the numbers that still have to accept it.
	Phones []string `json:"phones,omitempty"`
}

// RecordedPrefix starts the debug line; JSON of a Recorded follows.
const RecordedPrefix = "Delivery recorded: "

// LogRecorded logs a delivery as durable against a kill, now.
func LogRecorded(log telegraf.Logger, r notify.Delivered, now time.Time) {
	line, err := json.Marshal(Recorded{Dest: r.Dest, Accepted: r.At, Recorded: now, Alerts: r.Refs, Phones: r.Phones})
	if err == nil {
		log.Debug(RecordedPrefix + string(line))
	}
}

// mark returns what truncate needs: take it before the state snapshot.
func (j *journal) mark() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appended
}

// truncate empties the journal after a state file was written, unless a
// line was appended since mark (the snapshot may not show it).
func (j *journal) truncate(mark uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.appended != mark {
		return
	}
	if err := os.Truncate(j.path, 0); err != nil && !os.IsNotExist(err) {
		j.log.Errorf("Delivery journal: %v", err)
	}
}

// ReadJournal returns the journal's records. A line cut short by a kill
// mid-write is the last one and is skipped.
func ReadJournal(path string) ([]notify.Delivered, error) {
	data, _, err := atomicfile.ReadPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("delivery journal: %w", err)
	}
	var out []notify.Delivered
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		var r notify.Delivered
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Dest != "" {
			out = append(out, r)
		}
	}
	return out, nil
}
