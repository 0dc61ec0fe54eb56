package tcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, scheme, host, err string
	}{
		{in: "ckafka.tencentcloudapi.com", scheme: "HTTPS", host: "ckafka.tencentcloudapi.com"},
		{in: "ckafka.internal.tencentcloudapi.com:8443", scheme: "HTTPS", host: "ckafka.internal.tencentcloudapi.com:8443"},
		{in: "https://proxy.example.com", scheme: "HTTPS", host: "proxy.example.com"},
		{in: "https://proxy.example.com/", scheme: "HTTPS", host: "proxy.example.com"},
		{in: "http://127.0.0.1:9000", scheme: "HTTP", host: "127.0.0.1:9000"},
		{in: "", err: "empty"},
		{in: "ftp://x", err: "scheme must be http or https"},
		{in: "https://x/path", err: "without path"},
		{in: "https://user:pw@x", err: "without path, query or user"},
		{in: "host/path", err: "want host[:port] or a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			scheme, host, err := ParseEndpoint(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.scheme, scheme)
			require.Equal(t, tt.host, host)
		})
	}
}

func TestCredentialSources(t *testing.T) {
	t.Setenv("TENCENTCLOUD_SECRET_ID", "")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "")
	base := Options{Service: "ckafka", Version: "2019-08-19", Region: "ap-guangzhou", Endpoint: "http://127.0.0.1:1"}

	o := base
	o.SecretID, o.SecretKey = "AKIDx", "k"
	c, err := New(o)
	require.NoError(t, err)
	require.Equal(t, "secret_id/secret_key from the configuration", c.CredentialSource)

	o.Token = "sts-token"
	c, err = New(o)
	require.NoError(t, err)
	require.Equal(t, "secret_id/secret_key/token from the configuration", c.CredentialSource)

	o = base
	o.SecretID = "AKIDx"
	_, err = New(o)
	require.ErrorContains(t, err, "secret_key is empty")

	o = base
	o.SecretKey = "k"
	_, err = New(o)
	require.ErrorContains(t, err, "secret_id is empty")

	t.Setenv("TENCENTCLOUD_SECRET_ID", "AKIDenv")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "env-key")
	c, err = New(base)
	require.NoError(t, err)
	require.Contains(t, c.CredentialSource, "environment variables")
}

func TestErrorClasses(t *testing.T) {
	sdk := func(code string) error {
		return fmt.Errorf("wrapped: %w", tcerr.NewTencentCloudSDKError(code, "msg", "req-1"))
	}
	require.True(t, IsThrottled(sdk("RequestLimitExceeded")))
	require.True(t, IsThrottled(sdk("RequestLimitExceeded.UinLimitExceeded")))
	require.False(t, IsThrottled(sdk("LimitExceeded")))
	require.True(t, IsAuth(sdk("AuthFailure.SignatureExpire")))
	require.True(t, IsAuth(sdk("UnauthorizedOperation")))
	require.False(t, IsAuth(sdk("InternalError")))
	require.False(t, IsAuth(errors.New("plain")))
	require.Equal(t, "req-1", RequestID(sdk("InternalError")))
	require.Equal(t, "[InternalError] msg (RequestId req-1)", Describe(sdk("InternalError")))
	long := Describe(tcerr.NewTencentCloudSDKError("ClientError.ParseJsonError", strings.Repeat("界", 400), ""))
	require.Less(t, len(long), 1000, "bodies quoted by the SDK are bounded")
	require.True(t, strings.HasSuffix(long, "…"))
}

type echoResponse struct {
	tchttp.BaseResponse
	Response struct {
		Value string
	}
}

// The SDK's signature is accepted by the fake's verifier, and answers and
// errors come back typed.
func TestCallAgainstTheFake(t *testing.T) {
	fake := tcapi.New("ckafka", map[string]string{"AKIDx": "secret"})
	fake.Handle("Echo", func(params json.RawMessage) (any, *tcapi.Error) {
		return map[string]string{"Value": string(params)}, nil
	})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, err := New(Options{Service: "ckafka", Version: "2019-08-19", Region: "ap-guangzhou", Endpoint: srv.URL, SecretID: "AKIDx", SecretKey: "secret"})
	require.NoError(t, err)
	var resp echoResponse
	require.NoError(t, c.Call(context.Background(), "Echo", map[string]any{"A": 1}, &resp))
	require.JSONEq(t, `{"A":1}`, resp.Response.Value)

	fake.Inject(tcapi.Fault{Code: "ResourceNotFound", Message: "gone"})
	err = c.Call(context.Background(), "Echo", nil, &resp)
	require.Equal(t, "ResourceNotFound", Code(err))
	require.NotEmpty(t, RequestID(err))

	bad, err := New(Options{Service: "ckafka", Version: "2019-08-19", Region: "ap-guangzhou", Endpoint: srv.URL, SecretID: "AKIDx", SecretKey: "wrong"})
	require.NoError(t, err)
	err = bad.Call(context.Background(), "Echo", nil, &resp)
	require.Equal(t, "AuthFailure.SignatureFailure", Code(err))
	require.True(t, IsAuth(err))
}
