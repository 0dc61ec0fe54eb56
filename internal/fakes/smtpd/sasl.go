package smtpd

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
)

// go-sasl has PLAIN only on the server side; LOGIN and CRAM-MD5 are what
// many relays offer, so the fake speaks them too.

const cramMD5 = "CRAM-MD5"

var errAuthFailed = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}

// loginServer is AUTH LOGIN (draft-murchison-sasl-login): username and
// password, each answering a prompt.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

func (s *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch s.step {
	case 0:
		s.step++
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		s.username = string(response) // initial response
		s.step++
		return []byte("Password:"), false, nil
	case 1:
		s.username = string(response)
		s.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, s.check(s.username, string(response))
	}
}

// cramMD5Server is RFC 2195: the client answers a challenge with its
// username and the HMAC-MD5 of the challenge keyed with the password.
type cramMD5Server struct {
	username, password string
	authed             func(username string)
	challenge          []byte
}

func newCRAMMD5Server(username, password string, authed func(string)) *cramMD5Server {
	return &cramMD5Server{username: username, password: password, authed: authed}
}

func (s *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if s.challenge == nil {
		nonce := make([]byte, 8)
		_, _ = rand.Read(nonce)
		s.challenge = fmt.Appendf(nil, "<%s@localhost>", hex.EncodeToString(nonce))
		return s.challenge, false, nil
	}
	user, digest, ok := strings.Cut(string(response), " ")
	mac := hmac.New(md5.New, []byte(s.password))
	mac.Write(s.challenge)
	want := hex.EncodeToString(mac.Sum(nil))
	if !ok || user != s.username || !hmac.Equal([]byte(digest), []byte(want)) {
		return nil, true, errAuthFailed
	}
	s.authed(user)
	return nil, true, nil
}
