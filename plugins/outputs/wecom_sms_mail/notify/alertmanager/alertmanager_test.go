package alertmanager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

// TestPasswordInURLNeverShown: a member's basic-auth password stays out
// of errors and -test-notify lines.
func TestPasswordInURLNeverShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	u := strings.Replace(srv.URL, "http://", "http://am:s3cret-password@", 1)
	log := &testutil.CaptureLogger{}
	c, err := New(&Config{URLs: []string{u}}, tpls, "en", http.DefaultClient, log)
	require.NoError(t, err)
	now := time.Now()
	c.Sync(context.Background(), []alert.Alert{{Key: "ckafka_lag,group=g", Level: alert.LevelCritical, StartedAt: now}}, now)
	require.NotEmpty(t, log.Errors())
	for _, e := range log.Errors() {
		require.NotContains(t, e, "s3cret-password")
	}
	for u, err := range c.TestNotify(context.Background(), now) {
		require.Error(t, err)
		require.NotContains(t, c.Shown(u), "s3cret-password")
	}
}
