// Package web is the output's small page: the signed links every firing
// message carries (claim, silence, view), the confirmation pages they
// open, and the list of firing alerts and silences. Pages are plain
// server-rendered HTML (html/template); state changes only by POST.
package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is what a link does.
type Action string

const (
	ActionClaim           Action = "claim"
	ActionSilence1h       Action = "silence_1h"
	ActionSilence4h       Action = "silence_4h"
	ActionSilenceTomorrow Action = "silence_tomorrow" // until 09:00 tomorrow, in the configured timezone
	ActionView            Action = "view"
)

// Actions are the links of a firing alert, in the order messages show them.
var Actions = []Action{ActionClaim, ActionSilence1h, ActionSilence4h, ActionSilenceTomorrow, ActionView}

func (a Action) valid() bool {
	for _, known := range Actions {
		if a == known {
			return true
		}
	}
	return false
}

// Claims are what a token says: the action, the alert (its key and the
// start of its firing episode, so a link of an earlier episode does not
// act on a later one), the destination it was sent to, and its expiry.
type Claims struct {
	Action  Action `json:"a"`
	Alert   string `json:"k"`
	Since   int64  `json:"s"` // the episode's start, Unix seconds
	Dest    string `json:"d"`
	Expires int64  `json:"e"` // Unix seconds
}

// Errors of Verify; the page names each in words.
var (
	ErrMalformed = errors.New("the link is malformed")
	ErrTampered  = errors.New("the link's signature does not match")
	ErrExpired   = errors.New("the link has expired")
)

var b64 = base64.RawURLEncoding

// Sign returns the token for c: the claims' JSON and its HMAC-SHA256,
// each base64url, joined by a dot. URL-safe as it is.
func Sign(secret []byte, c Claims) string {
	payload, _ := json.Marshal(c) // plain fields: cannot fail
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(mac(secret, p))
}

func mac(secret []byte, payload string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// maxToken bounds what Verify reads: a link is a few hundred bytes.
const maxToken = 4096

// Verify checks the token's signature before reading anything in it, then
// its expiry at now.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	var c Claims
	if len(token) > maxToken {
		return c, ErrMalformed
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok || p == "" || strings.Contains(sig, ".") {
		return c, ErrMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return c, ErrMalformed
	}
	if !hmac.Equal(got, mac(secret, p)) {
		return c, ErrTampered
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return c, ErrMalformed
	}
	if err := json.Unmarshal(payload, &c); err != nil || !c.Action.valid() || c.Alert == "" {
		return Claims{}, ErrMalformed
	}
	if now.Unix() >= c.Expires {
		return c, fmt.Errorf("%w (at %s)", ErrExpired, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// ID names a token for the used-links record without keeping the token:
// its signature's first 16 bytes, hex.
func ID(token string) string {
	_, sig, _ := strings.Cut(token, ".")
	raw, _ := b64.DecodeString(sig)
	if len(raw) > 16 {
		raw = raw[:16]
	}
	return fmt.Sprintf("%x", raw)
}
