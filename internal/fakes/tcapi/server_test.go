package tcapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// call posts an unsigned request. Signed calls through the SDK are tested
// in internal/tcloud.
func call(t *testing.T, url, action, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-TC-Action", action)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestUnsignedRequestsGetTheDocumentedErrorShape(t *testing.T) {
	s := New("ckafka", map[string]string{"AKID": "key"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	status, out := call(t, srv.URL, "DescribeGroup", `{}`)
	require.Equal(t, http.StatusOK, status, "API errors come inside HTTP 200")
	resp := out["Response"].(map[string]any)
	require.Equal(t, "AuthFailure.InvalidAuthorization", resp["Error"].(map[string]any)["Code"])
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, resp["RequestId"])
	require.Equal(t, 1, s.Stats().AuthFailures)
}

func TestFaultMatchingAndCounting(t *testing.T) {
	s := New("ckafka", nil)
	s.Inject(Fault{Action: "A", BodyContains: `"Group":"g1"`, Code: "InternalError", Times: 2})
	s.Inject(Fault{Code: "ResourceNotFound", Times: -1})
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, "ResourceNotFound", s.takeFault("B", []byte(`{"Group":"g1"}`)).Code, "action B skips the first fault")
	require.Equal(t, "ResourceNotFound", s.takeFault("A", []byte(`{"Group":"g2"}`)).Code, "g2 skips the first fault")
	f := s.takeFault("A", []byte(`{"Group":"g1"}`))
	require.Equal(t, "InternalError", f.Code)
	require.Equal(t, "InternalError", s.takeFault("A", []byte(`{"Group":"g1"}`)).Code)
	require.Equal(t, "ResourceNotFound", s.takeFault("A", []byte(`{"Group":"g1"}`)).Code, "the first fault is used up")
	require.Equal(t, "ResourceNotFound", s.takeFault("A", []byte(`{}`)).Code, "forever")
}

func TestRateLimiterHoldsOneSecondOfRequests(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New("ckafka", nil)
	s.SetClock(func() time.Time { return now })
	s.SetRateLimit(5)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range 5 {
		require.True(t, s.allow(), "request %d within the burst", i)
	}
	require.False(t, s.allow(), "the sixth in the same instant is throttled")
	now = now.Add(200 * time.Millisecond)
	require.True(t, s.allow(), "one token back after 1/rate")
	require.False(t, s.allow())
}

// Each action has its own bucket: one action at its limit does not throttle
// another.
func TestActionRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New("ckafka", map[string]string{})
	s.SetClock(func() time.Time { return now })
	s.SetActionRateLimit(3)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range 3 {
		require.True(t, s.allowAction("DescribeGroupOffsets"), "request %d within the burst", i)
	}
	require.False(t, s.allowAction("DescribeGroupOffsets"), "the fourth in the same instant is throttled")
	require.True(t, s.allowAction("DescribeGroup"), "another action has its own bucket")
	now = now.Add(400 * time.Millisecond)
	require.True(t, s.allowAction("DescribeGroupOffsets"), "one token back after 1/rate")
}
