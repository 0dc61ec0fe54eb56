package web

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestTokens(t *testing.T) {
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	c := Claims{Action: ActionClaim, Alert: "ckafka_lag,group=billing,topic=orders", Since: now.Add(-time.Hour).Unix(), Dest: "wecom robot 1", Expires: now.Add(time.Hour).Unix()}
	good := Sign(secret, c)
	p, sig, _ := strings.Cut(good, ".")
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)/2] ^= 1
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		at    time.Time
		err   error
	}{
		{name: "valid", token: good, at: now},
		{name: "expired", token: good, at: now.Add(time.Hour), err: ErrExpired},
		{name: "tampered claims", token: flip(p) + "." + sig, at: now, err: ErrTampered},
		{name: "tampered signature", token: p + "." + flip(sig), at: now, err: ErrTampered},
		{name: "another secret", token: Sign([]byte("another secret of 32 bytes......"), c), at: now, err: ErrTampered},
		{name: "no signature", token: p, at: now, err: ErrMalformed},
		{name: "empty", token: "", at: now, err: ErrMalformed},
		{name: "three parts", token: good + ".x", at: now, err: ErrMalformed},
		{name: "not base64", token: p + ".***", at: now, err: ErrMalformed},
		{name: "too long", token: strings.Repeat("a", maxToken+1), at: now, err: ErrMalformed},
		{name: "unknown action", token: Sign(secret, Claims{Action: "delete", Alert: "x", Expires: now.Add(time.Hour).Unix()}), at: now, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(secret, tt.token, tt.at)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	}
	require.NotEqual(t, ID(good), ID(Sign(secret, Claims{Action: ActionSilence1h, Alert: c.Alert, Expires: c.Expires})))
	require.Len(t, ID(good), 32)
}

// FuzzVerify: no input makes the parser panic, and only a token signed
// with the secret verifies.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(Sign(secret, Claims{Action: ActionView, Alert: "k", Expires: now.Add(time.Hour).Unix()}))
	f.Add("e30.AAAA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(secret, token, now)
		if err == nil && Sign(secret, c) == "" {
			t.Fatal("verified a token that does not re-sign")
		}
		if err == nil {
			p, _, _ := strings.Cut(token, ".")
			require.Equal(t, token, p+"."+b64.EncodeToString(mac(secret, p)))
		}
	})
}
