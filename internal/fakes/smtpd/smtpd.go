// Package smtpd runs a real SMTP server (emersion/go-smtp) in-process on
// 127.0.0.1 for tests and the demo: STARTTLS or implicit TLS with a
// certificate from a throwaway CA, AUTH PLAIN, recorded messages, and
// temporary failures on demand.
package smtpd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// Mode is how the server offers TLS.
type Mode int

const (
	StartTLS Mode = iota // plain listener offering STARTTLS
	Implicit             // TLS from the first byte (port 465 style)
	Plain                // no TLS at all
)

// Message is one received mail.
type Message struct {
	From    string
	To      []string
	Subject string
	Text    string // the text/plain part
	HTML    string // the text/html part
	Raw     []byte
	TLS     bool
	Authed  string
	// Mechanism is the SASL mechanism the client authenticated with.
	Mechanism string
	// At is when the message was accepted.
	At time.Time
}

// Options configure a Server.
type Options struct {
	Mode     Mode
	Username string // AUTH required when set
	Password string
	// Mechanisms offered when Username is set: PLAIN (the default), LOGIN,
	// CRAM-MD5, in the order given.
	Mechanisms []string
	// Host to listen on, 127.0.0.1 by default. Another loopback address
	// (127.0.0.2) is not "localhost" to SMTP clients, which relax their
	// rules for localhost.
	Host string
}

// Server is a running SMTP server.
type Server struct {
	Addr  string
	CAPEM []byte // the certificate authority that signed the server's certificate

	srv *smtp.Server
	ln  net.Listener

	mu       sync.Mutex
	messages []Message
	failNext int
	dropNext int
	notify   chan Message
}

// Start listens on 127.0.0.1 with a fresh certificate.
func Start(opts Options) (*Server, error) {
	cert, caPEM, err := testkit.SelfSignedCert()
	if err != nil {
		return nil, err
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Username != "" && len(opts.Mechanisms) == 0 {
		opts.Mechanisms = []string{sasl.Plain}
	}
	for _, m := range opts.Mechanisms {
		if m != sasl.Plain && m != sasl.Login && m != cramMD5 {
			return nil, fmt.Errorf("smtpd: unsupported mechanism %q", m)
		}
	}
	s := &Server{CAPEM: caPEM, notify: make(chan Message, 1024)}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c, opts: opts}, nil
	})
	s.srv = smtp.NewServer(be)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxRecipients = 50
	s.srv.AllowInsecureAuth = false
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch opts.Mode {
	case Implicit:
		s.ln, err = tls.Listen("tcp", net.JoinHostPort(opts.Host, "0"), tlsConfig)
	case StartTLS:
		s.srv.TLSConfig = tlsConfig
		s.ln, err = net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
	default:
		s.srv.AllowInsecureAuth = true
		s.ln, err = net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
	}
	if err != nil {
		return nil, err
	}
	s.Addr = s.ln.Addr().String()
	go func() { _ = s.srv.Serve(s.ln) }()
	return s, nil
}

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// FailNext answers the next n messages with a temporary 451 error (n < 0:
// until FailNext(0)).
func (s *Server) FailNext(n int) { s.mu.Lock(); s.failNext = n; s.mu.Unlock() }

// DropNext closes the connection instead of answering the next n
// messages' DATA: the client never hears back, and the message is not
// accepted (n < 0: until DropNext(0)).
func (s *Server) DropNext(n int) { s.mu.Lock(); s.dropNext = n; s.mu.Unlock() }

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Received delivers each message as it arrives.
func (s *Server) Received() <-chan Message { return s.notify }

type session struct {
	s      *Server
	conn   *smtp.Conn
	opts   Options
	authed string
	mech   string
	from   string
	to     []string
}

func (se *session) AuthMechanisms() []string {
	if se.opts.Username == "" {
		return nil
	}
	return se.opts.Mechanisms
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if username != se.opts.Username || password != se.opts.Password {
			return errAuthFailed
		}
		se.authed, se.mech = username, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	case cramMD5:
		return newCRAMMD5Server(se.opts.Username, se.opts.Password, func(username string) {
			se.authed, se.mech = username, mech
		}), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.opts.Username != "" && se.authed == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	if se.s.dropNext != 0 {
		if se.s.dropNext > 0 {
			se.s.dropNext--
		}
		_ = se.conn.Close()
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "connection dropped"}
	}
	if se.s.failNext != 0 {
		if se.s.failNext > 0 {
			se.s.failNext--
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, isTLS := se.conn.TLSConnectionState()
	m := Message{From: se.from, To: append([]string(nil), se.to...), Raw: raw, TLS: isTLS, Authed: se.authed, Mechanism: se.mech, At: time.Now()}
	if err := parse(&m); err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	se.s.messages = append(se.s.messages, m)
	select {
	case se.s.notify <- m:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// parse fills Subject, Text and HTML from the raw message.
func parse(m *Message) error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	return walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, m)
}

func walk(contentType, encoding string, body io.Reader, m *Message) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, m); err != nil {
				return err
			}
		}
	}
	content, err := decodeBody(encoding, body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		m.Text = content
	case "text/html":
		m.HTML = content
	}
	return nil
}

func decodeBody(encoding string, body io.Reader) (string, error) {
	var r io.Reader = body
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = newQPReader(body)
	case "base64":
		r = newBase64Reader(body)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}
