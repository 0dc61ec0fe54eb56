package voice

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/vms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/render/rendertest"
)

func newChannel(t *testing.T, endpoint, key string, phones ...string) *Channel {
	t.Helper()
	ch, err := New(&Config{SecretID: "AKIDvoice", SecretKey: config.NewSecret([]byte(key)), Region: "ap-guangzhou", Endpoint: endpoint,
		VoiceSdkAppID: "1400006666", TemplateID: "4356", PlayTimes: 2, PhoneNumbers: phones, MinLevel: "critical", AckKey: "1"},
		"zh", 5*time.Second)
	require.NoError(t, err)
	return ch
}

func fakeVMS(t *testing.T) (*vms.Fake, string) {
	t.Helper()
	f := vms.New(map[string]string{"AKIDvoice": "voice-key"}, map[string]int{"4356": 3})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func TestCallPlacesOneSignedCallAndKeepsTheCallID(t *testing.T) {
	f, endpoint := fakeVMS(t)
	ch := newChannel(t, "http://"+endpoint, "voice-key", "13800000001", "+8613800000002")
	deliveries, err := ch.Prepare(rendertest.Hostile("zh"))
	require.NoError(t, err)
	require.Len(t, deliveries, 2, "one call per number")
	require.Equal(t, []string{"+8613800000001"}, deliveries[0].Phones)
	id, err := ch.Call(context.Background(), "+8613800000001", deliveries[0].Params, "g1")
	require.NoError(t, err)
	calls := f.Calls()
	require.Len(t, calls, 1)
	require.Equal(t, id, calls[0].ID)
	require.Equal(t, "1400006666", calls[0].AppID)
	require.Equal(t, 2, calls[0].PlayTimes)
	require.Equal(t, "g1", calls[0].Session)
}

func TestCallErrors(t *testing.T) {
	f, endpoint := fakeVMS(t)
	params := []string{"g", "t", "1"}
	retry := func(err error) bool { ok, _ := notify.Classify(err, time.Second); return ok }

	_, err := newChannel(t, "http://"+endpoint, "wrong", "13800000001").Call(context.Background(), "+8613800000001", params, "")
	require.ErrorContains(t, err, "AuthFailure")
	require.NotContains(t, err.Error(), "wrong", "the key is never in an error")
	require.False(t, retry(err))

	ch := newChannel(t, "http://"+endpoint, "voice-key")
	_, err = ch.Call(context.Background(), "+85261234567", params, "")
	require.ErrorContains(t, err, "+852****4567")
	require.ErrorContains(t, err, "IncorrectPhoneNumber")
	require.False(t, retry(err), "an invalid number is permanent")

	f.SetPerNumberLimit(1)
	_, err = ch.Call(context.Background(), "+8613800000009", params, "")
	require.NoError(t, err)
	_, err = ch.Call(context.Background(), "+8613800000009", params, "")
	require.ErrorContains(t, err, "LimitExceeded.DeliveryFrequencyLimit")
	require.False(t, retry(err), "a number's limit is permanent: the next person is called")

	f.Inject(tcapi.Fault{Action: "SendTtsVoice", Code: "RequestLimitExceeded", Times: 1})
	_, err = ch.Call(context.Background(), "+8613800000008", params, "")
	require.ErrorContains(t, err, "RequestLimitExceeded")
	require.True(t, retry(err), "the API's rate limit is retried")
}

func TestCheckPlacesNoCall(t *testing.T) {
	f, endpoint := fakeVMS(t)
	require.NoError(t, newChannel(t, "http://"+endpoint, "voice-key").Check(context.Background()))
	err := newChannel(t, "http://"+endpoint, "wrong").Check(context.Background())
	require.ErrorContains(t, err, "AuthFailure")
	require.Empty(t, f.Calls())
}

func TestParamsStayWithin350Characters(t *testing.T) {
	ch, err := New(&Config{SecretID: "id", SecretKey: config.NewSecret([]byte("k")), Region: "ap-guangzhou", Endpoint: "127.0.0.1:1",
		VoiceSdkAppID: "1", TemplateID: "2", PlayTimes: 1, MinLevel: "critical", AckKey: "1",
		TemplateParams: []string{strings.Repeat("长", 300), strings.Repeat("长", 100)}}, "zh", time.Second)
	require.NoError(t, err)
	params, err := ch.Params(rendertest.Hostile("zh"))
	require.NoError(t, err)
	require.Equal(t, 350, len([]rune(params[0]+params[1])))
}

func TestConfigErrors(t *testing.T) {
	base := func() *Config {
		return &Config{Region: "r", VoiceSdkAppID: "1", TemplateID: "2", PlayTimes: 2, MinLevel: "critical", AckKey: "1"}
	}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"play_times":    {func(c *Config) { c.PlayTimes = 4 }, "voice.play_times: 4"},
		"ack_key":       {func(c *Config) { c.AckKey = "12" }, `voice.ack_key: "12"`},
		"phone":         {func(c *Config) { c.PhoneNumbers = []string{"123"} }, "voice.phone_numbers[0]"},
		"template_id":   {func(c *Config) { c.TemplateID = "" }, "voice.template_id is required"},
		"template text": {func(c *Config) { c.TemplateParams = []string{"{{.Nope"} }, "voice.template_params[0]"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base()
			tc.edit(c)
			_, err := New(c, "zh", time.Second)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseCallback(t *testing.T) {
	tests := []struct {
		name, body, want, err string
	}{
		{"answered", `{"voiceprompt_callback":{"result":"0","accept_time":"1470197211","call_from":"","callid":"c1","end_calltime":"1470197221","fee":"1","mobile":"13800000001","nationcode":"86","start_calltime":"1470197196"}}`, oncall.CallAnswered, ""},
		{"not answered", `{"voiceprompt_callback":{"result":"1","callid":"c1"}}`, oncall.CallNoAnswer, ""},
		{"call error", `{"voiceprompt_callback":{"result":"2","callid":"c1"}}`, oncall.CallFailed, ""},
		{"ack key", `{"voicekey_callback":{"call_from":"","callid":"c1","keypress":"1","mobile":"13800000001","nationcode":"86"}}`, oncall.CallAcked, ""},
		{"other key", `{"voicekey_callback":{"callid":"c1","keypress":"2"}}`, oncall.CallOtherKey, ""},
		{"failure", `{"voice_failure_callback":{"call_from":"075583763333","callid":"c1","failure_code":8,"failure_reason":"空号","mobile":"13800000001","nationcode":"86"}}`, oncall.CallFailed, ""},
		{"not JSON", `result=0`, "", "not a JSON object"},
		{"two kinds", `{"voiceprompt_callback":{"result":"0","callid":"c1"},"voicekey_callback":{"callid":"c1","keypress":"1"}}`, "", "got 2 keys"},
		{"no callid", `{"voicekey_callback":{"keypress":"1"}}`, "", "callid is missing"},
		{"bad result", `{"voiceprompt_callback":{"result":"7","callid":"c1"}}`, "", "result \"7\" is not 0, 1 or 2"},
		{"unknown kind", `{"voicecode_callback":{"result":"0","callid":"c1"}}`, "", `unknown callback "voicecode_callback"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := ParseCallback([]byte(tt.body))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "c1", cb.CallID)
			require.Equal(t, tt.want, cb.Outcome("1"))
		})
	}
}

// TestPhoneSimulator: the fake posts the documented callbacks for each
// scripted answer.
func TestPhoneSimulator(t *testing.T) {
	f, endpoint := fakeVMS(t)
	got := make(chan string, 16)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		parsed, err := ParseCallback(body)
		require.NoError(t, err)
		got <- parsed.Kind + ":" + parsed.Outcome("1")
		_, _ = w.Write([]byte(`{"result":0,"errmsg":"OK"}`))
	}))
	defer cb.Close()
	f.SetCallbackURL(cb.URL)
	ch := newChannel(t, "http://"+endpoint, "voice-key")
	for phone, want := range map[string][]string{
		"+8613800000001": {"voicekey_callback:acked", "voiceprompt_callback:answered"},
		"+8613800000002": {"voiceprompt_callback:answered"},
		"+8613800000003": {"voiceprompt_callback:no_answer"},
		"+8613800000004": {"voice_failure_callback:failed"},
	} {
		switch phone {
		case "+8613800000001":
			f.Script(phone, vms.AnswerWithKey("1"))
		case "+8613800000002":
			f.Script(phone, vms.AnswerNoKey)
		case "+8613800000004":
			f.Script(phone, vms.Failed)
		}
		_, err := ch.Call(context.Background(), phone, []string{"g", "t", "1"}, "")
		require.NoError(t, err)
		for _, w := range want {
			select {
			case g := <-got:
				require.Equal(t, w, g, phone)
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s callback for %s", w, phone)
			}
		}
	}
}
