package sms

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

// TestHostileNames: SMS variables lose their control characters.
func TestHostileNames(t *testing.T) {
	t.Run("sms", func(t *testing.T) {
		ch, err := New(&Config{SecretID: "id", SecretKey: config.NewSecret([]byte("k")), Region: "ap-guangzhou", Endpoint: "127.0.0.1:1",
			SdkAppID: "1", TemplateID: "2", PhoneNumbers: []string{"13800000001"}, MinLevel: "critical", ParamMaxLength: 12}, "zh", time.Second)
		require.NoError(t, err)
		out, err := ch.Prepare(rendertest.Hostile("zh"))
		require.NoError(t, err)
		for _, p := range out[0].Params {
			require.False(t, strings.ContainsFunc(p, unicode.IsControl), "%q", p)
		}
		require.Equal(t, "prod<@all>", out[0].Params[0])
	})
}
