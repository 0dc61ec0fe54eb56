package main

import (
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// TestPreviewMatchesWhatIsSent: -preview prints exactly what the binary
// then sends for the same metrics, writes the HTML and the chart, and sends
// nothing itself.
func TestPreviewMatchesWhatIsSent(t *testing.T) {
	s := startSinks(t)
	conf := writeConfig(t, `  language = "en"`)
	t0 := time.Now().Add(-30 * time.Minute)
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders alert_level=\"critical\",alert_threshold=2000i,lag=%di %d",
			2100+50*i, t0.Add(time.Duration(i)*time.Minute).UnixNano()))
	}
	metrics := filepath.Join(t.TempDir(), "metrics.lp")
	require.NoError(t, os.WriteFile(metrics, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	out := t.TempDir()
	cmd := exec.Command(binary, "-config", conf, "-preview", metrics, "-out", out)
	cmd.Env = s.env
	preview, err := cmd.Output()
	require.NoError(t, err, string(preview))
	require.Empty(t, s.robot.Messages(), "the preview sends nothing")
	require.Empty(t, s.smtp.Messages())
	require.Empty(t, s.sms.Messages())
	require.Contains(t, string(preview), `template parameters ["prod" "billi…" "orders" "3550" "2000"]`)

	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	require.NotEmpty(t, pngs)
	f, err := os.Open(pngs[0])
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	require.Equal(t, 800, img.Bounds().Dx())
	htmls, _ := filepath.Glob(filepath.Join(out, "*email*.html"))
	require.Len(t, htmls, 1)

	// The same metrics, really sent: the robot gets the previewed text.
	p := start(t, s, conf)
	p.send(t, lines[len(lines)-1])
	msg := testkit.Await(t, s.robot.Received(), 15*time.Second, "the wecom message")
	require.Contains(t, string(preview), msg.Content)
}

// -preview tells times in the timezone key, as deliveries do, not in the
// machine's zone: the email's "since" of an alert started at 10:00 UTC is
// 18:00 CST with timezone = "Asia/Shanghai" on a UTC machine.
func TestPreviewUsesTheTimezone(t *testing.T) {
	s := startSinks(t)
	conf := writeConfig(t, "  language = \"en\"\n  timezone = \"Asia/Shanghai\"")
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	line := fmt.Sprintf("ckafka_lag,group=billing,instance_id=ckafka-1,instance_name=prod,region=ap-guangzhou,topic=orders alert_level=\"critical\",alert_threshold=2000i,lag=2500i %d", at.UnixNano())
	metrics := filepath.Join(t.TempDir(), "metrics.lp")
	require.NoError(t, os.WriteFile(metrics, []byte(line+"\n"), 0o600))
	out := t.TempDir()
	cmd := exec.Command(binary, "-config", conf, "-preview", metrics, "-out", out)
	cmd.Env = append(s.env, "TZ=UTC")
	preview, err := cmd.Output()
	require.NoError(t, err, string(preview))
	htmls, _ := filepath.Glob(filepath.Join(out, "*email*.html"))
	require.Len(t, htmls, 1)
	html, err := os.ReadFile(htmls[0])
	require.NoError(t, err)
	require.Contains(t, string(html), "2026-12-04 18:00:00 CST")
}
