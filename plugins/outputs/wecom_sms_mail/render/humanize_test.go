package render

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d      time.Duration
		en, zh string
	}{
		{0, "0s", "0秒"},
		{400 * time.Millisecond, "0s", "0秒"},
		{30 * time.Second, "30s", "30秒"},
		{4*time.Minute + 12*time.Second, "4m12s", "4分12秒"},
		{6 * time.Minute, "6m", "6分钟"},
		{time.Hour + 2*time.Minute + 5*time.Second, "1h2m", "1小时2分"},
		{time.Hour, "1h", "1小时"},
		{3*24*time.Hour + 4*time.Hour + 7*time.Minute, "3d4h", "3天4小时"},
		{24*time.Hour + 30*time.Second, "1d", "1天"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.en, humanDuration(tt.d, "en"), tt.d.String())
		require.Equal(t, tt.zh, humanDuration(tt.d, "zh"), tt.d.String())
	}
	require.Equal(t, "4m12s", humanSeconds(252.4, "en"))
	require.Equal(t, "0s", humanSeconds(-3, "en"))
}

func TestHumanRate(t *testing.T) {
	tests := []struct {
		v      float64
		en, zh string
	}{
		{0, "0/s", "0/s"},
		{0.5, "0.5/s", "0.5/s"},
		{80, "80/s", "80/s"},
		{120.4, "120/s", "120/s"},
		{1234, "1.2k/s", "1234/s"},
		{52000, "52k/s", "5.2万/s"},
		{3_400_000, "3.4M/s", "340万/s"},
		{250_000_000, "250M/s", "2.5亿/s"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.en, humanRate(tt.v, "en"), "%v", tt.v)
		require.Equal(t, tt.zh, humanRate(tt.v, "zh"), "%v", tt.v)
	}
}
