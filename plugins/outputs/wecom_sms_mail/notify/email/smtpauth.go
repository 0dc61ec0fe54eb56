package email

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/wneessen/go-mail/smtp"
)

// SMTP AUTH mechanisms the email.auth key accepts.
const (
	authAuto    = "auto"
	authPlain   = "plain"
	authLogin   = "login"
	authCramMD5 = "cram-md5"
	authNone    = "none"
)

// Strongest first. PLAIN and LOGIN send the password itself, so auto offers
// them on a connection without TLS only when the operator chose
// tls_mode = "none" (go-mail's own auto-discovery never does, which broke
// plain relays).
var (
	autoPreference      = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"}
	mechanismOfAuthMode = map[string]string{authPlain: "PLAIN", authLogin: "LOGIN", authCramMD5: "CRAM-MD5"}
)

// smtpAuth picks the mechanism from what the server offers and records the
// choice, so a failed AUTH can say which mechanism was tried and which were
// offered. The actual exchanges are go-mail's.
type smtpAuth struct {
	mode       string
	username   string
	password   string
	host       string
	allowUnenc bool // the operator chose tls_mode = "none"

	mu      sync.Mutex
	started bool
	tried   string
	offered []string
	done    bool
	inner   smtp.Auth
}

func newSMTPAuth(mode, username, password, host string, allowUnenc bool) *smtpAuth {
	return &smtpAuth{mode: mode, username: username, password: password, host: host, allowUnenc: allowUnenc}
}

// chooseMechanism is pure: the mechanism to use for mode, given the server's
// offer and whether the connection is encrypted (or the operator accepted
// that it is not).
func chooseMechanism(mode string, offered []string, plainTextOK bool) (string, error) {
	if len(offered) == 0 {
		return "", errors.New("the server offers no AUTH mechanism but email.username is set " +
			"(remove username for a relay that trusts the source address)")
	}
	if mech, ok := mechanismOfAuthMode[mode]; ok {
		if !slices.Contains(offered, mech) {
			return "", fmt.Errorf("email.auth = %q but the server offers only %s", mode, strings.Join(offered, " "))
		}
		return mech, nil
	}
	for _, mech := range autoPreference {
		if !slices.Contains(offered, mech) {
			continue
		}
		if (mech == "PLAIN" || mech == "LOGIN") && !plainTextOK {
			continue
		}
		return mech, nil
	}
	return "", fmt.Errorf("no usable AUTH mechanism among %s on a connection without TLS "+
		"(set email.tls_mode = \"none\" to allow PLAIN or LOGIN in the clear)", strings.Join(offered, " "))
}

func (a *smtpAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.started, a.offered = true, append([]string(nil), server.Auth...)
	a.tried, a.done, a.inner = "", false, nil
	mech, err := chooseMechanism(a.mode, server.Auth, server.TLS || a.allowUnenc)
	if err != nil {
		return "", nil, err
	}
	a.tried = mech
	switch mech {
	case "PLAIN":
		a.inner = smtp.PlainAuth("", a.username, a.password, a.host, a.allowUnenc)
	case "LOGIN":
		a.inner = smtp.LoginAuth(a.username, a.password, a.host, a.allowUnenc)
	case "CRAM-MD5":
		a.inner = smtp.CRAMMD5Auth(a.username, a.password)
	case "SCRAM-SHA-256":
		a.inner = smtp.ScramSHA256Auth(a.username, a.password)
	case "SCRAM-SHA-1":
		a.inner = smtp.ScramSHA1Auth(a.username, a.password)
	}
	return a.inner.Start(server)
}

func (a *smtpAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !more {
		a.done = true // 235: accepted
	}
	return a.inner.Next(fromServer, more)
}

// explain adds the mechanism tried and those offered to an error of a send
// whose AUTH started but did not succeed; other errors pass unchanged.
func (a *smtpAuth) explain(err error) error {
	if a == nil || err == nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started || a.done || a.tried == "" {
		return err // no AUTH, AUTH succeeded, or Start's own error says it all
	}
	return fmt.Errorf("SMTP AUTH %s failed (server offers %s): %w", a.tried, strings.Join(a.offered, " "), err)
}

// reset forgets the previous attempt before a new send.
func (a *smtpAuth) reset() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.started, a.tried, a.offered, a.done = false, "", nil, false
	a.mu.Unlock()
}
