package render

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// chartData is n alerts with 120 points each, from a fixed clock.
func chartData(n int) *TemplateData {
	t0 := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	var notes []alert.Notification
	for i := range n {
		a := alert.Alert{Key: fmt.Sprintf("ckafka_lag,group=消费组-%d,instance_id=ckafka-1,topic=orders", i), Level: alert.LevelWarning,
			Value: 1500, HasValue: true, Threshold: 1000, HasThreshold: true, StartedAt: t0}
		if i%2 == 0 {
			a.Level, a.Threshold = alert.LevelCritical, 2000
		}
		for j := range 120 {
			at := t0.Add(time.Duration(j) * 30 * time.Second)
			a.History = append(a.History, alert.Point{At: at, Unix: at.Unix(), Lag: float64(500 + 30*j + 100*i), Threshold: a.Threshold})
		}
		notes = append(notes, alert.Notification{Kind: alert.KindFiring, At: t0.Add(time.Hour), Alert: a})
	}
	return BuildData(notes, "zh", time.Minute)
}

func TestChart(t *testing.T) {
	charts, err := NewCharts("", time.FixedZone("CST", 8*3600))
	require.NoError(t, err)
	png1, err := charts.Render(chartData(7))
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(png1))
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, ChartWidth, ChartHeight), img.Bounds())
	colours := map[[3]uint32]bool{}
	for y := 0; y < ChartHeight; y += 3 {
		for x := 0; x < ChartWidth; x += 3 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	require.Greater(t, len(colours), 10, "not blank")
	require.True(t, colours[[3]uint32{0xc6, 0x28, 0x28}], "critical lines are red")

	png2, err := charts.Render(chartData(7))
	require.NoError(t, err)
	require.Equal(t, png1, png2, "byte-identical for the same input")

	none, err := charts.Render(BuildData(nil, "en", 0))
	require.NoError(t, err)
	require.Nil(t, none, "no history, no chart")
	var nilCharts *Charts
	none, err = nilCharts.Render(chartData(1))
	require.NoError(t, err)
	require.Nil(t, none)
}

func TestChartFont(t *testing.T) {
	_, err := NewCharts("/nonexistent/NotoSansCJK-Regular.ttc", nil)
	require.ErrorContains(t, err, "chart_font")
	_, err = NewCharts("chart.go", nil)
	require.ErrorContains(t, err, "chart_font: chart.go is not a TTF, OTF or TTC font")
}

func TestHistoryBounds(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	h := alert.History{Window: time.Hour, Max: 120}
	tests := []struct {
		name   string
		points int
		step   time.Duration
		maxLen int
		oldest time.Duration // the oldest kept point is at most this old
	}{
		{"under the bounds", 60, 30 * time.Second, 60, 30 * time.Minute},
		{"thinned beyond 120 points", 300, 10 * time.Second, 120, 50 * time.Minute},
		{"window", 200, time.Minute, 120, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := alert.NewAlerts(alert.Policy{History: h})
			var last time.Time
			for i := range tt.points {
				last = t0.Add(time.Duration(i) * tt.step)
				a.Observe(alert.Observation{Key: "k", Level: alert.LevelWarning, Value: float64(i), HasValue: true}, last)
			}
			hist := a.Snapshot()[0].History
			require.LessOrEqual(t, len(hist), tt.maxLen)
			require.LessOrEqual(t, last.Sub(hist[0].At), tt.oldest)
			require.Equal(t, last, hist[len(hist)-1].At, "the newest point stays")
			for i := 1; i < len(hist); i++ {
				require.True(t, hist[i].At.After(hist[i-1].At))
			}
		})
	}
}

// BenchmarkChart renders one chart of 5 series × 120 points.
func BenchmarkChart(b *testing.B) {
	charts, err := NewCharts("", time.UTC)
	require.NoError(b, err)
	d := chartData(5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := charts.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}

func TestChartLimit(t *testing.T) {
	tests := []struct {
		name   string
		a      AlertView
		want   float64
		wantOK bool
	}{
		{"count threshold", AlertView{Threshold: 2000, HasThreshold: true, DetailView: DetailView{Reason: "lag"}}, 2000, true},
		{"seconds threshold is not drawn on a count axis", AlertView{Threshold: 300, HasThreshold: true, DetailView: DetailView{Reason: "lag_seconds"}}, 0, false},
		{"retention: where deletion starts at the produce rate", AlertView{Threshold: 3600, HasThreshold: true,
			DetailView: DetailView{Reason: "retention", ProduceRate: 30, HasProduceRate: true, RetentionSeconds: 86400, HasRetention: true}}, 30 * 86400, true},
		{"retention without a produce rate", AlertView{DetailView: DetailView{Reason: "retention", RetentionSeconds: 86400, HasRetention: true}}, 0, false},
		{"lost: no line", AlertView{DetailView: DetailView{Reason: "lost"}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := chartLimit(tt.a)
			require.Equal(t, tt.wantOK, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}
