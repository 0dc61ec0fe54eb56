package web

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"
)

// Alert is a firing alert as the pages show it.
type Alert struct {
	Key, Level, Subject, Lag, Behind, Trend string
	LevelText                               string // localized
	Since                                   time.Time
	ClaimedBy                               string
	SilencedUntil                           time.Time
	HasChart                                bool
}

// Silence is a silence as the list shows it.
type Silence struct {
	ID, Matchers, CreatedBy, Comment string
	StartsAt, EndsAt                 time.Time
}

// Store is what the pages read and change: the plugin's alert state and
// silence store, the same ones the CLI and the HA pair use.
type Store interface {
	Firing(now time.Time) []Alert
	Alert(key string, now time.Time) (Alert, bool)
	Claim(key string, since int64, by string, now time.Time) error
	Silence(key string, until time.Time, by, comment string, now time.Time) (string, error)
	Silences(now time.Time) []Silence
	Expire(id string, now time.Time) error
	Chart(key string) ([]byte, error)
	// Used reports who used a link (by ID) and when; MarkUsed records a
	// use until the link expires.
	Used(id string) (by string, at time.Time, ok bool)
	MarkUsed(id, by string, at, expires time.Time)
}

// Config is what the server needs from [outputs.wecom_sms_mail.web].
type Config struct {
	Listen      string
	ExternalURL string
	Secret      []byte
	TTL         time.Duration
	UsersFile   string // htpasswd, bcrypt; empty: the list is open
	Lang        string
	Location    *time.Location
	// VoiceToken, when set, is the secret path of the VMS callbacks
	// (POST /vms/<token>); OnVoice takes each callback's body, and its
	// error (a malformed body) is answered 400.
	VoiceToken []byte
	OnVoice    func(body []byte) error
	// Ready, when set, says whether this host acts: a standby of the HA
	// pair answers /healthz with 503, so the proxy in front of the pair
	// sends the links to the active host.
	Ready func() bool
}

// Server serves the links and the list.
type Server struct {
	cfg     Config
	store   Store
	users   map[string][]byte // user → bcrypt hash
	pages   *template.Template
	words   words
	posts   *rate.Limiter
	now     func() time.Time
	secure  bool
	srv     *http.Server
	mu      sync.Mutex
	actions sync.Mutex // one state change at a time: a link is used once
}

//go:embed pages/*.html
var pageFS embed.FS

// New checks the config and reads the users file.
func New(cfg Config, store Store) (*Server, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("web.link_secret: at least 16 bytes are required (e.g. `openssl rand -hex 32`, from the environment)")
	}
	u, err := url.Parse(cfg.ExternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web.external_url: %q is not an http(s) URL", cfg.ExternalURL)
	}
	if cfg.TTL <= 0 {
		return nil, errors.New("web.link_ttl must be positive")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("web.listen: %q: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, store: store, words: lang(cfg.Lang), now: time.Now, secure: u.Scheme == "https",
		posts: rate.NewLimiter(5, 20)}
	s.cfg.ExternalURL = strings.TrimRight(cfg.ExternalURL, "/")
	if s.cfg.Location == nil {
		s.cfg.Location = time.Local
	}
	if cfg.UsersFile != "" {
		if s.users, err = readUsers(cfg.UsersFile); err != nil {
			return nil, fmt.Errorf("web.basic_auth_users_file: %w", err)
		}
	}
	s.pages, err = template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string { return t.In(s.cfg.Location).Format("2006-01-02 15:04 MST") },
	}).ParseFS(pageFS, "pages/*.html")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// readUsers reads an htpasswd file of bcrypt hashes.
func readUsers(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("line %d: want user:bcrypt-hash (htpasswd -B)", n)
		}
		users[user] = []byte(hash)
	}
	if len(users) == 0 {
		return nil, errors.New("no user in the file")
	}
	return users, sc.Err()
}

// LinkURL is the signed link for action on the firing alert (key, since)
// sent to dest.
func (s *Server) LinkURL(a Action, key string, since time.Time, dest string, now time.Time) string {
	return s.cfg.ExternalURL + "/a/" + Sign(s.cfg.Secret, Claims{Action: a, Alert: key, Since: since.Unix(), Dest: dest,
		Expires: now.Add(s.cfg.TTL).Unix()})
}

// Label is the action's label in messages.
func (s *Server) Label(a Action) string { return s.words.Actions[a] }

// Handler is the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{token}", s.confirm)
	mux.HandleFunc("POST /a/{token}", s.limitPost(s.act))
	mux.HandleFunc("GET /{$}", s.auth(s.list))
	mux.HandleFunc("GET /chart", s.auth(s.chart))
	mux.HandleFunc("POST /silences/{id}/expire", s.auth(s.limitPost(s.expire)))
	if len(s.cfg.VoiceToken) > 0 && s.cfg.OnVoice != nil {
		mux.HandleFunc("POST /vms/{token}", s.voiceCallback)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.cfg.Ready != nil && !s.cfg.Ready() {
			http.Error(w, "standby", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return securityHeaders(mux)
}

// Start listens on cfg.Listen; Shutdown stops.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web.listen: %w", err)
	}
	s.mu.Lock()
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Shutdown stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the path
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// auth guards the pages that list and change things, when a users file is
// configured.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.users != nil {
			user, pass, ok := r.BasicAuth()
			hash, known := s.users[user]
			if !ok || !known || bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
				w.Header().Set("WWW-Authenticate", `Basic realm="ckafka_lag alerts", charset="UTF-8"`)
				http.Error(w, "401 unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h(w, r)
	}
}

// csrf is the form token for a purpose (a link's token, or an expiry):
// only a page this server rendered carries it.
func (s *Server) csrf(purpose string) string {
	h := hmac.New(sha256.New, s.cfg.Secret)
	h.Write([]byte("csrf\x00" + purpose))
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) checkCSRF(r *http.Request, purpose string) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf(purpose))) == 1
}

// page is what every page template sees.
type page struct {
	W       words
	Title   string
	Message string
	Error   bool
	Action  Action
	Label   string
	Alert   *Alert
	Token   string
	CSRF    string
	Name    string
	Alerts  []Alert
	Silence []Silence
	Expire  map[string]string // silence ID → CSRF token
	Until   time.Time
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	p.W = s.words
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = s.pages.ExecuteTemplate(w, name, p)
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, "message.html", page{Title: s.words.Error, Message: msg, Error: true})
}

// claims verifies the link and says, in words, why it cannot be used.
func (s *Server) claims(w http.ResponseWriter, token string) (Claims, bool) {
	c, err := Verify(s.cfg.Secret, token, s.now())
	switch {
	case errors.Is(err, ErrExpired):
		s.fail(w, http.StatusGone, s.words.Expired)
		return c, false
	case err != nil:
		s.fail(w, http.StatusBadRequest, s.words.Invalid)
		return c, false
	}
	if by, at, used := s.store.Used(ID(token)); used && c.Action != ActionView {
		s.fail(w, http.StatusConflict, fmt.Sprintf(s.words.Used, by, at.In(s.cfg.Location).Format("2006-01-02 15:04")))
		return c, false
	}
	return c, true
}

// confirm shows what a link would do; GET never changes anything.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	c, ok := s.claims(w, token)
	if !ok {
		return
	}
	a, firing := s.store.Alert(c.Alert, s.now())
	if !firing || a.Since.Unix() != c.Since {
		s.fail(w, http.StatusGone, s.words.NotFiring)
		return
	}
	if c.Action == ActionView {
		s.render(w, http.StatusOK, "view.html", page{Title: a.Subject, Alert: &a})
		return
	}
	name := ""
	if ck, err := r.Cookie("name"); err == nil {
		if v, err := url.QueryUnescape(ck.Value); err == nil && validName(v) {
			name = v
		}
	}
	s.render(w, http.StatusOK, "confirm.html", page{Title: s.words.Actions[c.Action], Action: c.Action, Label: s.words.Actions[c.Action],
		Alert: &a, Token: token, CSRF: s.csrf(token), Name: name, Until: s.until(c.Action, s.now())})
}

// until is when a silence link's silence ends.
func (s *Server) until(a Action, now time.Time) time.Time {
	switch a {
	case ActionSilence1h:
		return now.Add(time.Hour)
	case ActionSilence4h:
		return now.Add(4 * time.Hour)
	case ActionSilenceTomorrow:
		local := now.In(s.cfg.Location)
		return time.Date(local.Year(), local.Month(), local.Day()+1, 9, 0, 0, 0, s.cfg.Location)
	}
	return time.Time{}
}

func validName(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// voiceCallback takes a VMS callback. The path's token is compared in
// constant time; a wrong one is a 404, as for any unknown path. The
// answer is the one the VMS docs ask for.
func (s *Server) voiceCallback(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.PathValue("token")), s.cfg.VoiceToken) != 1 {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err == nil {
		err = s.cfg.OnVoice(body)
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		msg, _ := json.Marshal(map[string]any{"result": 1, "errmsg": err.Error()})
		_, _ = w.Write(msg)
		return
	}
	_, _ = w.Write([]byte(`{"result":0,"errmsg":"OK"}`))
}

// limitPost rate-limits a form POST and bounds its body.
func (s *Server) limitPost(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.posts.Allow() {
			s.fail(w, http.StatusTooManyRequests, s.words.TooMany)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		h(w, r)
	}
}

// act does what the link says, once.
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	s.actions.Lock()
	defer s.actions.Unlock()
	c, ok := s.claims(w, token)
	if !ok {
		return
	}
	if c.Action == ActionView || !s.checkCSRF(r, token) {
		s.fail(w, http.StatusForbidden, s.words.Invalid)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if !validName(name) {
		s.fail(w, http.StatusBadRequest, s.words.BadName)
		return
	}
	now := s.now()
	var msg string
	switch c.Action {
	case ActionClaim:
		if err := s.store.Claim(c.Alert, c.Since, name, now); err != nil {
			s.fail(w, http.StatusConflict, err.Error())
			return
		}
		msg = fmt.Sprintf(s.words.Claimed, name)
	default:
		until := s.until(c.Action, now)
		a, firing := s.store.Alert(c.Alert, now)
		if !firing || a.Since.Unix() != c.Since {
			s.fail(w, http.StatusGone, s.words.NotFiring)
			return
		}
		id, err := s.store.Silence(c.Alert, until, name, "link sent to "+c.Dest, now)
		if err != nil {
			s.fail(w, http.StatusInternalServerError, err.Error())
			return
		}
		msg = fmt.Sprintf(s.words.Silenced, until.In(s.cfg.Location).Format("2006-01-02 15:04 MST"), id)
	}
	s.store.MarkUsed(ID(token), name, now, time.Unix(c.Expires, 0))
	http.SetCookie(w, &http.Cookie{Name: "name", Value: url.QueryEscape(name), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	s.render(w, http.StatusOK, "message.html", page{Title: s.words.Done, Message: msg})
}

// list shows the firing alerts and the silences.
func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	now := s.now()
	silences := s.store.Silences(now)
	expire := make(map[string]string, len(silences))
	for _, sl := range silences {
		expire[sl.ID] = s.csrf("expire\x00" + sl.ID)
	}
	s.render(w, http.StatusOK, "list.html", page{Title: s.words.ListTitle, Alerts: s.store.Firing(now), Silence: silences, Expire: expire})
}

func (s *Server) chart(w http.ResponseWriter, r *http.Request) {
	png, err := s.store.Chart(r.URL.Query().Get("k"))
	if err != nil {
		http.Error(w, "no chart", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

func (s *Server) expire(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.checkCSRF(r, "expire\x00"+id) {
		s.fail(w, http.StatusForbidden, s.words.Invalid)
		return
	}
	if err := s.store.Expire(id, s.now()); err != nil {
		s.fail(w, http.StatusNotFound, err.Error())
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
