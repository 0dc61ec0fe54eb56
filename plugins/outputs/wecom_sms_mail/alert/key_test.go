package alert

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAlertKeyRoundTrip(t *testing.T) {
	name, tags := ParseKey(`ckafka_lag,group=a\,b,instance_id=x\=y,topic=t\\1`)
	require.Equal(t, "ckafka_lag", name)
	require.Equal(t, []Tag{{"group", "a,b"}, {"instance_id", "x=y"}, {"topic", `t\1`}}, tags)
}
