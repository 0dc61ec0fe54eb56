package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// chartConfig is writeConfig with the robot following a first firing
// message with its chart.
func chartConfig(t *testing.T, top string) string {
	t.Helper()
	path := writeConfig(t, top)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	const robot = `webhook_urls = ["${TEST_WECOM_URL}"]`
	require.Contains(t, string(raw), robot)
	conf := strings.Replace(string(raw), robot, robot+"\n    send_chart = true", 1)
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	return path
}

func lineAt(group, level string, lag int64, at time.Time) string {
	return fmt.Sprintf("ckafka_lag,group=%s,host=h1,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders alert_level=%q,alert_threshold=2000i,lag=%di %d",
		group, level, lag, at.UnixNano())
}

// TestFirstFiringMessageHasItsChart: at a realistic cadence (a line a
// second, group_wait 2 s) the first firing message is followed by its chart,
// and the first email carries it inline: the chart starts before the breach.
func TestFirstFiringMessageHasItsChart(t *testing.T) {
	s := startSinks(t)
	p := start(t, s, chartConfig(t, `  group_wait = "2s"`))
	for i, l := range []struct {
		level string
		lag   int64
	}{{"ok", 800}, {"ok", 1200}, {"ok", 1700}, {"critical", 2300}, {"critical", 2900}} {
		if i > 0 {
			time.Sleep(time.Second) // the cadence under test, not a wait for the output
		}
		p.send(t, lineAt("billing", l.level, l.lag, time.Now()))
	}
	first := testkit.Await(t, s.robot.Received(), 15*time.Second, "the firing message")
	require.Equal(t, "markdown", first.MsgType)
	img := testkit.Await(t, s.robot.Received(), 15*time.Second, "the chart after the first firing message")
	require.Equal(t, "image", img.MsgType)
	_, err := png.Decode(bytes.NewReader(img.Image))
	require.NoError(t, err)
	mail := testkit.Await(t, s.smtp.Received(), 15*time.Second, "the first email")
	require.Contains(t, string(mail.Raw), "lag-chart.png", "the chart inline in the first email")
	require.Contains(t, mail.HTML, "cid:lag-chart.png")
}

// TestBackfilledCollectionsKeepEveryPoint: ten collections written at once
// (as Telegraf flushes after an output restart), a second apart by their
// own timestamps, then the breach: the alert's chart history has every
// point, in timestamp order, keyed by the metrics' times, not by arrival.
func TestBackfilledCollectionsKeepEveryPoint(t *testing.T) {
	s := startSinks(t)
	state := filepath.Join(t.TempDir(), "alerts.state")
	p := start(t, s, chartConfig(t, fmt.Sprintf("  state_file = %q\n  chart_window = \"1h\"", state)))
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	var lines []string
	for i := range 10 {
		lines = append(lines, lineAt("billing", "ok", int64(100*i), t0.Add(time.Duration(i)*time.Second)))
	}
	lines = append(lines, lineAt("billing", "critical", 2500, t0.Add(10*time.Second)))
	p.send(t, lines...)
	testkit.Await(t, s.robot.Received(), 15*time.Second, "the firing message")
	img := testkit.Await(t, s.robot.Received(), 15*time.Second, "the chart")
	require.Equal(t, "image", img.MsgType)

	var hist []alert.Point
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(state)
		if err != nil {
			return false
		}
		var st struct {
			Alerts []alert.Alert `json:"alerts"`
		}
		if json.Unmarshal(raw, &st) != nil || len(st.Alerts) != 1 {
			return false
		}
		hist = st.Alerts[0].History
		return true
	}, 15*time.Second, 10*time.Millisecond, "the state file lists the alert")
	require.Len(t, hist, 11, "every collection is a point")
	for i, pt := range hist {
		require.Equal(t, t0.Add(time.Duration(i)*time.Second).Unix(), pt.Unix, "point %d at its metric's time", i)
	}
	require.Equal(t, 2500.0, hist[10].Lag)
}
