// Package tc3 verifies Tencent Cloud API 3.0 request signatures
// (TC3-HMAC-SHA256) on the server side. The fakes use it so that a client
// that signs wrongly fails in tests exactly as it would against the cloud.
//
// The client side is never implemented here: clients sign with
// tencentcloud-sdk-go's common module.
package tc3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signature algorithm API 3.0 fakes accept.
const Algorithm = "TC3-HMAC-SHA256"

// MaxSkew is how far the request timestamp may be from the server clock
// before the cloud answers AuthFailure.SignatureExpire.
const MaxSkew = 5 * time.Minute

// Failure is a verification failure carrying the cloud's error code.
type Failure struct {
	Code    string
	Message string
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

func fail(code, format string, args ...any) *Failure {
	return &Failure{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Request is the part of an HTTP request the signature covers.
type Request struct {
	Method    string
	Host      string
	Path      string
	RawQuery  string
	Header    http.Header
	Body      []byte
	Service   string
	Timestamp int64
}

// Authorization is a parsed Authorization header.
type Authorization struct {
	SecretID      string
	Date          string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization splits
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
func ParseAuthorization(header string) (*Authorization, error) {
	algo, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || algo != Algorithm {
		return nil, errors.New("authorization header is not " + Algorithm)
	}
	var a Authorization
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("malformed authorization element %q", part)
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 4 || scope[3] != "tc3_request" {
				return nil, fmt.Errorf("malformed credential scope %q", v)
			}
			a.SecretID, a.Date, a.Service = scope[0], scope[1], scope[2]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.SecretID == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return nil, errors.New("authorization header lacks Credential, SignedHeaders or Signature")
	}
	return &a, nil
}

// Sign computes the hex signature of r with the given secret key, following
// the Signature v3 document step by step.
func Sign(r *Request, signedHeaders []string, secretKey string) string {
	var canonicalHeaders strings.Builder
	for _, name := range signedHeaders {
		value := r.Header.Get(name)
		if strings.EqualFold(name, "host") {
			value = r.Host
		}
		canonicalHeaders.WriteString(strings.ToLower(name) + ":" + strings.ToLower(strings.TrimSpace(value)) + "\n")
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	canonicalRequest := strings.Join([]string{
		r.Method,
		path,
		r.RawQuery,
		canonicalHeaders.String(),
		strings.Join(signedHeaders, ";"),
		sha256Hex(r.Body),
	}, "\n")

	date := time.Unix(r.Timestamp, 0).UTC().Format("2006-01-02")
	scope := date + "/" + r.Service + "/tc3_request"
	stringToSign := strings.Join([]string{
		Algorithm,
		strconv.FormatInt(r.Timestamp, 10),
		scope,
		sha256Hex([]byte(canonicalRequest)),
	}, "\n")

	secretDate := hmacSHA256([]byte("TC3"+secretKey), date)
	secretService := hmacSHA256(secretDate, r.Service)
	secretSigning := hmacSHA256(secretService, "tc3_request")
	return hex.EncodeToString(hmacSHA256(secretSigning, stringToSign))
}

// Verify checks the signature of an HTTP request whose body has already been
// read. keys maps SecretId to SecretKey. It returns the SecretId on success.
func Verify(hr *http.Request, body []byte, service string, keys func(secretID string) (string, bool), now time.Time) (string, *Failure) {
	auth, err := ParseAuthorization(hr.Header.Get("Authorization"))
	if err != nil {
		return "", fail("AuthFailure.InvalidAuthorization", "%v", err)
	}
	ts, err := strconv.ParseInt(hr.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return "", fail("AuthFailure.InvalidAuthorization", "missing or bad X-TC-Timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return "", fail("AuthFailure.SignatureExpire", "request timestamp %d is %s away from server time", ts, d.Round(time.Second))
	}
	if auth.Service != service {
		return "", fail("AuthFailure.InvalidAuthorization", "credential scope service %q is not %q", auth.Service, service)
	}
	if auth.Date != time.Unix(ts, 0).UTC().Format("2006-01-02") {
		return "", fail("AuthFailure.InvalidAuthorization", "credential scope date %q does not match X-TC-Timestamp", auth.Date)
	}
	key, ok := keys(auth.SecretID)
	if !ok {
		return "", fail("AuthFailure.SecretIdNotFound", "the SecretId is not found")
	}
	req := &Request{
		Method:    hr.Method,
		Host:      hr.Host,
		Path:      hr.URL.Path,
		RawQuery:  hr.URL.RawQuery,
		Header:    hr.Header,
		Body:      body,
		Service:   service,
		Timestamp: ts,
	}
	if hr.Method == http.MethodPost {
		req.RawQuery = ""
	}
	want := Sign(req, auth.SignedHeaders, key)
	if !hmac.Equal([]byte(want), []byte(auth.Signature)) {
		return "", fail("AuthFailure.SignatureFailure", "the provided credentials could not be validated")
	}
	return auth.SecretID, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
