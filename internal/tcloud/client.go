// Package tcloud wraps tencentcloud-sdk-go's common client for the typed
// calls of this project: endpoint forms that operators write, credential
// selection with a name for the source, per-call contexts, and error
// classification. Signing and transport stay in the SDK.
package tcloud

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// Options configure a Client.
type Options struct {
	Service  string // e.g. "ckafka"
	Version  string // e.g. "2019-08-19"
	Region   string
	Endpoint string // "host[:port]", "https://host[:port]" or "http://host:port"
	// SecretID, SecretKey and Token are explicit credentials; an empty
	// SecretID selects the SDK's default provider chain.
	SecretID, SecretKey, Token string
	Timeout                    time.Duration
}

// Client sends signed API 3.0 requests.
type Client struct {
	sdk              *common.Client
	service, version string
	// CredentialSource names where the credentials came from, for error
	// messages that must help without revealing the secret.
	CredentialSource string
}

// New builds a client. It resolves credentials now, so that a missing
// credential is an error at start rather than at the first collection.
func New(o Options) (*Client, error) {
	scheme, host, err := ParseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	cred, source, err := credential(o)
	if err != nil {
		return nil, err
	}
	prof := profile.NewClientProfile()
	prof.HttpProfile.Endpoint = host
	prof.HttpProfile.Scheme = scheme
	if o.Timeout > 0 {
		// The per-call context enforces the timeout; this is a backstop.
		prof.HttpProfile.ReqTimeout = int(math.Ceil(o.Timeout.Seconds())) + 1
	}
	prof.Language = "en-US"
	// Retries are ours: the SDK's cannot be counted and skip sub-codes.
	prof.RateLimitExceededMaxRetries = 0
	prof.NetworkFailureMaxRetries = 0
	return &Client{
		sdk:              common.NewCommonClient(cred, o.Region, prof),
		service:          o.Service,
		version:          o.Version,
		CredentialSource: source,
	}, nil
}

// ParseEndpoint accepts a bare host[:port] (HTTPS) or an http(s) URL and
// returns the SDK's scheme and endpoint.
func ParseEndpoint(endpoint string) (scheme, host string, err error) {
	if endpoint == "" {
		return "", "", errors.New("endpoint is empty")
	}
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?# ") {
			return "", "", fmt.Errorf("endpoint %q: want host[:port] or a URL", endpoint)
		}
		return "HTTPS", endpoint, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("endpoint %q: want scheme://host[:port] without path, query or user", endpoint)
	}
	switch u.Scheme {
	case "https":
		return "HTTPS", u.Host, nil
	case "http":
		return "HTTP", u.Host, nil
	default:
		return "", "", fmt.Errorf("endpoint %q: scheme must be http or https", endpoint)
	}
}

func credential(o Options) (common.CredentialIface, string, error) {
	if o.SecretID != "" {
		if o.SecretKey == "" {
			return nil, "", errors.New("secret_id is set but secret_key is empty")
		}
		if o.Token != "" {
			return common.NewTokenCredential(o.SecretID, o.SecretKey, o.Token), "secret_id/secret_key/token from the configuration", nil
		}
		return common.NewCredential(o.SecretID, o.SecretKey), "secret_id/secret_key from the configuration", nil
	}
	if o.SecretKey != "" || o.Token != "" {
		return nil, "", errors.New("secret_key or token is set but secret_id is empty")
	}
	providers := []struct {
		name string
		p    common.Provider
	}{
		{"environment variables TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY", common.DefaultEnvProvider()},
		{"profile file ~/.tencentcloud/credentials", common.DefaultProfileProvider()},
		{"CVM instance role", common.DefaultCvmRoleProvider()},
	}
	for _, p := range providers {
		if cred, err := p.p.GetCredential(); err == nil {
			return cred, p.name, nil
		}
	}
	return nil, "", errors.New("no credentials: secret_id is empty and the default chain (TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY, ~/.tencentcloud/credentials, CVM role) found none")
}

// Call sends action with params (marshalled to JSON) and decodes the answer
// into resp, which embeds tchttp.BaseResponse.
func (c *Client) Call(ctx context.Context, action string, params map[string]any, resp tchttp.Response) error {
	req := tchttp.NewCommonRequest(c.service, c.version, action)
	if err := req.SetActionParameters(params); err != nil {
		return err
	}
	req.SetContext(ctx)
	return c.sdk.Send(req, resp)
}

// Code returns the API error code of err ("" when it has none).
func Code(err error) string {
	var sdkErr *tcerr.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		return sdkErr.Code
	}
	return ""
}

// RequestID returns the RequestId of an API error ("" when it has none).
func RequestID(err error) string {
	var sdkErr *tcerr.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		return sdkErr.RequestId
	}
	return ""
}

// IsThrottled reports RequestLimitExceeded and all its sub-codes.
func IsThrottled(err error) bool {
	return strings.HasPrefix(Code(err), "RequestLimitExceeded")
}

// IsTransient reports failures worth retrying: no API code (the network),
// throttling, the API's internal errors, and the SDK's transport errors.
func IsTransient(err error) bool {
	code := Code(err)
	switch {
	case code == "", strings.HasPrefix(code, "RequestLimitExceeded"), strings.HasPrefix(code, "InternalError"),
		code == "ClientError.NetworkError", code == "ClientError.HttpStatusCodeError", code == "ClientError.ParseJsonError":
		return true
	}
	return false
}

// IsAuth reports failures that no retry fixes: bad or expired signatures,
// unknown keys, missing CAM permissions.
func IsAuth(err error) bool {
	code := Code(err)
	return strings.HasPrefix(code, "AuthFailure") || strings.HasPrefix(code, "UnauthorizedOperation")
}

// Describe renders err for a log line: code, a bounded message and the
// RequestId to quote to Tencent support.
func Describe(err error) string {
	var sdkErr *tcerr.TencentCloudSDKError
	if !errors.As(err, &sdkErr) {
		return truncate(err.Error(), 300)
	}
	s := "[" + sdkErr.Code + "] " + truncate(sdkErr.Message, 300)
	if sdkErr.RequestId != "" {
		s += " (RequestId " + sdkErr.RequestId + ")"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
