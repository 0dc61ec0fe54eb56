package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render"
)

func notes(t0 time.Time) []alert.Notification {
	return []alert.Notification{
		{Kind: alert.KindFiring, At: t0, Alert: alert.Alert{Key: "ckafka_lag,group=billing,instance_id=ckafka-1,topic=orders",
			Level: alert.LevelCritical, NotifiedLevel: alert.LevelCritical, Value: 2500, HasValue: true, Threshold: 2000, HasThreshold: true, StartedAt: t0}},
		{Kind: alert.KindResolved, At: t0, Alert: alert.Alert{Key: "ckafka_lag,group=search,instance_id=ckafka-1,topic=orders",
			Level: alert.LevelOK, NotifiedLevel: alert.LevelWarning, Value: 5, HasValue: true, StartedAt: t0.Add(-time.Hour)}},
	}
}

func TestAlertmanagerPayload(t *testing.T) {
	var got Message
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		raw, _ := io.ReadAll(r.Body)
		require.NoError(t, json.Unmarshal(raw, &got))
	}))
	defer srv.Close()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	chs, err := New(&Config{URLs: []string{srv.URL + "/hook?token=q-secret-0001"}, BearerToken: config.NewSecret([]byte("bearer-secret")),
		Headers: map[string]string{"X-Team": "data"}}, tpls, http.DefaultClient)
	require.NoError(t, err)
	ch := chs[0]
	require.NotContains(t, ch.ID(), "q-secret-0001")
	ds, err := ch.Prepare(render.BuildData(notes(time.Now()), "en", time.Minute))
	require.NoError(t, err)
	require.NoError(t, ch.Deliver(context.Background(), &ds[0]))

	require.Equal(t, "Bearer bearer-secret", auth)
	require.Equal(t, "4", got.Version)
	require.Equal(t, "firing", got.Status)
	require.Equal(t, map[string]string{"alertname": AlertName}, got.GroupLabels)
	require.Equal(t, AlertName, got.CommonLabels["alertname"])
	require.Equal(t, "ckafka-1", got.CommonLabels["instance_id"])
	require.NotContains(t, got.CommonLabels, "group", "not common")
	require.Len(t, got.Alerts, 2)
	firing, resolved := got.Alerts[0], got.Alerts[1]
	require.Equal(t, "firing", firing.Status)
	require.Equal(t, map[string]string{"alertname": AlertName, "severity": "critical", "group": "billing", "instance_id": "ckafka-1", "topic": "orders"}, firing.Labels)
	require.True(t, firing.EndsAt.IsZero(), "firing alerts end at 0001-01-01")
	require.Contains(t, firing.Annotations["description"], "lag 2500")
	require.Len(t, firing.Fingerprint, 16)
	require.Equal(t, "resolved", resolved.Status)
	require.Equal(t, "warning", resolved.Labels["severity"], "the level it had")
	require.False(t, resolved.EndsAt.IsZero())
}

func TestStatusCodes(t *testing.T) {
	status := http.StatusTooManyRequests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	tpls, err := render.Load("en")
	require.NoError(t, err)
	chs, err := New(&Config{URLs: []string{srv.URL}, Format: "json"}, tpls, http.DefaultClient)
	require.NoError(t, err)
	ds, err := chs[0].Prepare(render.SampleData("en", time.Now()))
	require.NoError(t, err)
	var shape map[string]any
	require.NoError(t, json.Unmarshal([]byte(ds[0].Text), &shape))
	require.Contains(t, shape, "Alerts", "our own shape has every template field")
	for code, retry := range map[int]bool{429: true, 503: true, 400: false, 404: false} {
		status = code
		err := chs[0].Deliver(context.Background(), &ds[0])
		r, _ := notify.Classify(err, time.Second)
		require.Equal(t, retry, r, "HTTP %d", code)
	}
	status = http.StatusAccepted
	require.NoError(t, chs[0].Deliver(context.Background(), &ds[0]))
}
