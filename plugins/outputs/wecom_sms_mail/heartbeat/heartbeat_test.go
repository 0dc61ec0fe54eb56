package heartbeat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "defaults", cfg: Config{URLs: []string{"https://hc-ping.com/abc"}}},
		{name: "bad method", cfg: Config{Method: "PUT"}, want: `heartbeat.method: "PUT"`},
		{name: "interval too short", cfg: Config{Interval: config.Duration(time.Millisecond)}, want: "heartbeat.interval"},
		{name: "not http", cfg: Config{URLs: []string{"ftp://x/secret-path"}}, want: "heartbeat.urls[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(&tt.cfg, http.DefaultClient, testutil.Logger{})
			if tt.want == "" {
				require.NoError(t, err)
				require.Equal(t, time.Minute, s.Interval())
				require.Equal(t, http.MethodGet, s.method)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "secret-path")
		})
	}
}

// TestBeatRetriesAndKeepsOthersGoing: one receiver fails twice before it
// answers, another always answers; both get their ping within the interval,
// and the failing one's secret path never reaches the log.
func TestBeatRetriesAndKeepsOthersGoing(t *testing.T) {
	var flaky, steady atomic.Int32
	flakySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flaky.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		require.Equal(t, http.MethodPost, r.Method)
	}))
	defer flakySrv.Close()
	steadySrv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { steady.Add(1) }))
	defer steadySrv.Close()
	log := &testutil.CaptureLogger{}
	s, err := New(&Config{URLs: []string{flakySrv.URL + "/ping/uuid-secret", steadySrv.URL + "/x"}, Interval: config.Duration(5 * time.Second), Method: "post"},
		&http.Client{Timeout: time.Second}, log)
	require.NoError(t, err)
	s.retryBase = 10 * time.Millisecond
	s.Beat(context.Background())
	require.EqualValues(t, 3, flaky.Load(), "two failures, then the ping")
	require.EqualValues(t, 1, steady.Load())

	// A receiver that is down for the whole interval is logged, redacted.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer down.Close()
	s2, err := New(&Config{URLs: []string{down.URL + "/ping/uuid-secret"}, Interval: config.Duration(time.Second)}, &http.Client{Timeout: time.Second}, log)
	require.NoError(t, err)
	s2.retryBase = 10 * time.Millisecond
	s2.Beat(context.Background())
	require.NotEmpty(t, log.Warnings())
	for _, m := range log.Warnings() {
		require.NotContains(t, m, "uuid-secret")
		require.Contains(t, m, "HTTP 500")
	}
}
