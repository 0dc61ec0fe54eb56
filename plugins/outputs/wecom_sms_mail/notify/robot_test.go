package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacer(t *testing.T) {
	now := time.Unix(1000, 0)
	p := NewPacer(Limit{N: 20, Window: time.Minute})
	p.Now = func() time.Time { return now }
	for range 20 {
		require.Zero(t, p.untilFree(false))
		p.Record()
		now = now.Add(time.Second)
	}
	require.Equal(t, 40*time.Second, p.untilFree(false), "the oldest send leaves the window at 60 s")
	now = now.Add(40 * time.Second)
	require.Zero(t, p.untilFree(false))

	// Feishu's two limits: 5 a second and 100 a minute.
	now = time.Unix(5000, 0)
	f := NewPacer(Limit{N: 5, Window: time.Second}, Limit{N: 100, Window: time.Minute})
	f.Now = func() time.Time { return now }
	for range 5 {
		f.Record()
	}
	require.Equal(t, time.Second, f.untilFree(false))
	require.Equal(t, time.Minute, f.UntilFree(), "told we are over: wait for the longest window's oldest send")
}
