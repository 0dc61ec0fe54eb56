package cluster

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

// A standby that never sees a state (no member was ever active) keeps only
// the last bufferKeep of what it receives.
func TestStandbyBufferIsBounded(t *testing.T) {
	pr := &Member{cfg: &Config{SessionTimeout: config.Duration(time.Second)}}
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 600 { // ten minutes, one a second
		pr.Keep(engine.Input{}, t0.Add(time.Duration(i)*time.Second))
	}
	require.LessOrEqual(t, len(pr.buffered), 61, "a minute's worth")
	require.Equal(t, t0.Add(599*time.Second), pr.buffered[len(pr.buffered)-1].At, "the newest kept")
}
