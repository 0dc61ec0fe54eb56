package execd

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

type recordingOutput struct {
	mu        sync.Mutex
	batches   [][]telegraf.Metric
	connected bool
	closed    bool
}

func (*recordingOutput) SampleConfig() string { return "" }
func (o *recordingOutput) Connect() error     { o.connected = true; return nil }
func (o *recordingOutput) Close() error       { o.closed = true; return nil }
func (o *recordingOutput) Write(ms []telegraf.Metric) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, ms)
	return nil
}

func (o *recordingOutput) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, b := range o.batches {
		n += len(b)
	}
	return n
}

func TestRunOutputParsesAndSkipsBadLines(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // over the shim's 64 KiB limit
	input := "cpu,host=a usage=1.5,n=3i 1700000000000000000\n" +
		"not line protocol at all\n" +
		"\n# a comment\n" +
		"mem,host=b free=2u,ok=true,s=\"" + long + "\" 1700000000000000001\n" +
		"disk used=3i\n"
	out := &recordingOutput{}
	log := &testutil.CaptureLogger{}
	require.NoError(t, RunOutput(out, strings.NewReader(input), log))
	require.True(t, out.connected)
	require.True(t, out.closed)
	var got []telegraf.Metric
	for _, b := range out.batches {
		got = append(got, b...)
	}
	require.Len(t, got, 3)
	require.Equal(t, "cpu", got[0].Name())
	require.Equal(t, map[string]interface{}{"usage": 1.5, "n": int64(3)}, got[0].Fields())
	require.Equal(t, time.Unix(0, 1700000000000000000), got[0].Time())
	v, _ := got[1].GetField("s")
	require.Len(t, v, len(long))
	require.Equal(t, uint64(2), got[1].Fields()["free"])
	require.WithinDuration(t, time.Now(), got[2].Time(), time.Minute, "no timestamp means now")
	require.Len(t, log.Errors(), 1)
	require.Contains(t, log.Errors()[0], "Skipping a malformed line")
}

// A line is written as soon as it has arrived, without waiting for more.
func TestRunOutputWritesWithoutWaitingForMoreInput(t *testing.T) {
	r, w := io.Pipe()
	out := &recordingOutput{}
	done := make(chan error)
	go func() { done <- RunOutput(out, r, &testutil.CaptureLogger{}) }()
	_, err := io.WriteString(w, "cpu usage=1i\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return out.count() == 1 }, 5*time.Second, time.Millisecond)
	_, err = io.WriteString(w, "cpu usage=2i\ncpu usage=3i\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return out.count() == 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, w.Close())
	require.NoError(t, <-done)
	require.True(t, out.closed)
}
