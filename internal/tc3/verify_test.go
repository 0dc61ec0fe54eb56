package tc3

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The official example of the Signature v3 document.
const (
	vectorKey       = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
	vectorID        = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	vectorTimestamp = 1551113065
	vectorBody      = `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`
	vectorSignature = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
)

func vectorRequest(signature string) *http.Request {
	hr := httptest.NewRequest(http.MethodPost, "https://cvm.tencentcloudapi.com/", strings.NewReader(vectorBody))
	hr.Host = "cvm.tencentcloudapi.com"
	hr.Header.Set("Content-Type", "application/json; charset=utf-8")
	hr.Header.Set("X-TC-Timestamp", "1551113065")
	hr.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+vectorID+"/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature="+signature)
	return hr
}

func TestSignOfficialVector(t *testing.T) {
	hr := vectorRequest("")
	got := Sign(&Request{
		Method: http.MethodPost, Host: "cvm.tencentcloudapi.com", Path: "/",
		Header: hr.Header, Body: []byte(vectorBody), Service: "cvm", Timestamp: vectorTimestamp,
	}, []string{"content-type", "host"}, vectorKey)
	if got != vectorSignature {
		t.Fatalf("signature = %s, want %s", got, vectorSignature)
	}
}

func TestVerify(t *testing.T) {
	keys := func(id string) (string, bool) {
		if id == vectorID {
			return vectorKey, true
		}
		return "", false
	}
	at := time.Unix(vectorTimestamp, 0)
	tests := []struct {
		name     string
		modify   func(*http.Request) []byte
		now      time.Time
		wantCode string
	}{
		{name: "official vector verifies", now: at},
		{name: "clock within skew", now: at.Add(4 * time.Minute)},
		{name: "clock skew", now: at.Add(6 * time.Minute), wantCode: "AuthFailure.SignatureExpire"},
		{name: "tampered body", now: at, wantCode: "AuthFailure.SignatureFailure",
			modify: func(*http.Request) []byte { return []byte(strings.Replace(vectorBody, "1", "2", 1)) }},
		{name: "tampered host", now: at, wantCode: "AuthFailure.SignatureFailure",
			modify: func(hr *http.Request) []byte { hr.Host = "cvm.example.com"; return nil }},
		{name: "unknown secret id", now: at, wantCode: "AuthFailure.SecretIdNotFound",
			modify: func(hr *http.Request) []byte {
				hr.Header.Set("Authorization", strings.Replace(hr.Header.Get("Authorization"), vectorID, "AKIDother", 1))
				return nil
			}},
		{name: "no authorization", now: at, wantCode: "AuthFailure.InvalidAuthorization",
			modify: func(hr *http.Request) []byte { hr.Header.Del("Authorization"); return nil }},
		{name: "wrong service", now: at, wantCode: "AuthFailure.InvalidAuthorization",
			modify: func(hr *http.Request) []byte {
				hr.Header.Set("Authorization", strings.Replace(hr.Header.Get("Authorization"), "/cvm/", "/sms/", 1))
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := vectorRequest(vectorSignature)
			body := []byte(vectorBody)
			if tt.modify != nil {
				if b := tt.modify(hr); b != nil {
					body = b
				}
			}
			id, failure := Verify(hr, body, "cvm", keys, tt.now)
			if tt.wantCode == "" {
				if failure != nil {
					t.Fatalf("unexpected failure %v", failure)
				}
				if id != vectorID {
					t.Fatalf("secret id = %q", id)
				}
				return
			}
			if failure == nil || failure.Code != tt.wantCode {
				t.Fatalf("failure = %v, want code %s", failure, tt.wantCode)
			}
		})
	}
}
