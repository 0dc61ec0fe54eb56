package execd

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// maxBatch bounds one Write call.
const maxBatch = 4096

// RunOutput feeds the line protocol read from r to out until EOF, then
// closes out. It replaces the shim's output loop, which parses with
// Telegraf's slower parser, one Write per line, stops at a line over
// 64 KiB, and re-arms its batch timer only after a full batch.
//
// Batches are what the input had ready: the batch is handed on whenever the
// decoder is about to wait for more input, so a lone line is written at
// once and a flood is written in large batches. Decoding and Write run in
// two goroutines, so both cores work under load. A malformed line is
// reported and skipped.
func RunOutput(out telegraf.Output, r io.Reader, log telegraf.Logger) (err error) {
	if err := out.Connect(); err != nil {
		return fmt.Errorf("connecting output: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing output: %w", cerr)
		}
	}()

	batches := make(chan []telegraf.Metric, 4)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for batch := range batches {
			if werr := out.Write(batch); werr != nil {
				log.Errorf("Writing %d metric(s): %v", len(batch), werr)
			}
		}
	}()

	var batch []telegraf.Metric
	flush := func() {
		if len(batch) > 0 {
			batches <- batch
			batch = nil // the output owns the slice it was given
		}
	}
	dec := lineprotocol.NewDecoder(&flushingReader{r: r, flush: flush})
	for dec.Next() {
		m, perr := DecodeMetric(dec)
		if perr != nil {
			log.Errorf("Skipping a malformed line: %v", perr)
			continue
		}
		batch = append(batch, m)
		if len(batch) >= maxBatch {
			flush()
		}
	}
	flush()
	close(batches)
	<-written
	if derr := dec.Err(); derr != nil && !errors.Is(derr, io.EOF) {
		return fmt.Errorf("reading stdin: %w", derr)
	}
	return nil
}

// flushingReader writes the pending batch before every read that may block.
type flushingReader struct {
	r     io.Reader
	flush func()
}

func (f *flushingReader) Read(p []byte) (int, error) {
	f.flush()
	return f.r.Read(p)
}

// DecodeMetric reads the entry the decoder is on; a missing timestamp
// means now.
func DecodeMetric(dec *lineprotocol.Decoder) (telegraf.Metric, error) {
	name, err := dec.Measurement()
	if err != nil {
		return nil, err
	}
	tags := make(map[string]string, 8)
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		tags[string(k)] = string(v)
	}
	fields := make(map[string]interface{}, 8)
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return nil, err
		}
		if k == nil {
			break
		}
		fields[string(k)] = v.Interface()
	}
	ts, err := dec.Time(lineprotocol.Nanosecond, time.Now())
	if err != nil {
		return nil, err
	}
	return metric.New(string(name), tags, fields, ts), nil
}
