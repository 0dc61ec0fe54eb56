package render

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShortNumber(t *testing.T) {
	tests := []struct {
		v      float64
		maxLen int
		lang   string
		want   string
	}{
		{185238291, 6, "zh", "1.9亿"},
		{185238291, 6, "en", "185M"},
		{2500, 6, "zh", "2500"},
		{123456, 6, "en", "123456"},
		{1234567, 6, "en", "1.2M"},
		{1234567, 6, "zh", "123万"},
		{99999, 4, "zh", "10万"},
		{1500000000, 6, "en", "1.5B"},
		{-2500000, 6, "en", "-2.5M"},
		{20000000, 6, "zh", "2000万"},
		{12.3456789, 6, "en", "12.35"},
		{185238291, 12, "zh", "185238291"},
		{185238291, 0, "en", "185238291"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, shortNumber(tt.v, tt.maxLen, tt.lang), "%v max %d %s", tt.v, tt.maxLen, tt.lang)
	}
}

func TestShortText(t *testing.T) {
	require.Equal(t, "1.9亿", ShortText("185238291", 6, "zh"))
	require.Equal(t, "billi…", ShortText("billing-consumers", 6, "en"))
	require.Equal(t, "订单消费者…", ShortText("订单消费者组一", 6, "zh"))
	require.Equal(t, "short", ShortText("short", 6, "en"))
}
