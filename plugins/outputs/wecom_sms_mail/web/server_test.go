package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// store is a Store with one firing alert.
type store struct {
	claimed string
	used    map[string]string
}

func (s *store) Firing(time.Time) []Alert { a, _ := s.Alert("k", time.Time{}); return []Alert{a} }
func (s *store) Alert(key string, _ time.Time) (Alert, bool) {
	return Alert{Key: key, Level: "critical", Subject: "<b>group</b>", Since: time.Unix(100, 0), ClaimedBy: s.claimed}, key == "k"
}
func (s *store) Claim(_ string, _ int64, by string, _ time.Time) error { s.claimed = by; return nil }
func (s *store) Silence(string, time.Time, string, string, time.Time) (string, error) {
	return "s1", nil
}
func (s *store) Silences(time.Time) []Silence   { return nil }
func (s *store) Expire(string, time.Time) error { return nil }
func (s *store) Chart(string) ([]byte, error)   { return []byte("png"), nil }
func (s *store) Used(id string) (string, time.Time, bool) {
	by, ok := s.used[id]
	return by, time.Unix(0, 0), ok
}
func (s *store) MarkUsed(id, by string, _, _ time.Time) { s.used[id] = by }

func newServer(t *testing.T, cfg Config) (*Server, *store) {
	t.Helper()
	st := &store{used: map[string]string{}}
	cfg.Listen, cfg.ExternalURL, cfg.Secret, cfg.TTL, cfg.Lang = "127.0.0.1:0", "https://alerts.example.com", secret, time.Hour, "en"
	s, err := New(cfg, st)
	require.NoError(t, err)
	return s, st
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Secret: []byte("short"), ExternalURL: "https://x", TTL: time.Hour, Listen: ":1"}, "web.link_secret"},
		{Config{Secret: secret, ExternalURL: "ftp://x", TTL: time.Hour, Listen: ":1"}, "web.external_url"},
		{Config{Secret: secret, ExternalURL: "https://x", TTL: time.Hour, Listen: "nohost"}, "web.listen"},
		{Config{Secret: secret, ExternalURL: "https://x", TTL: time.Hour, Listen: ":1", UsersFile: "/nonexistent"}, "web.basic_auth_users_file"},
	} {
		_, err := New(tt.cfg, &store{})
		require.ErrorContains(t, err, tt.want)
	}
}

func TestPostNeedsCSRFAndName(t *testing.T) {
	s, st := newServer(t, Config{})
	h := s.Handler()
	token := Sign(secret, Claims{Action: ActionClaim, Alert: "k", Since: 100, Expires: time.Now().Add(time.Hour).Unix()})
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/a/"+token, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	require.Equal(t, http.StatusForbidden, post(url.Values{"name": {"x"}}).Code, "no CSRF token")
	require.Equal(t, http.StatusBadRequest, post(url.Values{"name": {"a\nb"}, "csrf": {s.csrf(token)}}).Code, "a control character in the name")
	require.Empty(t, st.claimed)
	w := post(url.Values{"name": {"<i>Zhang</i>"}, "csrf": {s.csrf(token)}})
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "<i>Zhang</i>", st.claimed)
	require.Contains(t, w.Body.String(), "&lt;i&gt;Zhang&lt;/i&gt;", "escaped on the page")
	require.Contains(t, w.Header().Get("Set-Cookie"), "Secure", "behind https the cookie is Secure")
	require.Equal(t, http.StatusConflict, post(url.Values{"name": {"b"}, "csrf": {s.csrf(token)}}).Code, "used once")
}

func TestListNeedsBasicAuthAndStandbyIsUnready(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)
	users := filepath.Join(t.TempDir(), "htpasswd")
	require.NoError(t, os.WriteFile(users, []byte("# team\nops:"+string(hash)+"\n"), 0o600))
	ready := false
	s, _ := newServer(t, Config{UsersFile: users, Ready: func() bool { return ready }})
	h := s.Handler()
	get := func(path, user, pass string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusUnauthorized, get("/", "", ""))
	require.Equal(t, http.StatusUnauthorized, get("/", "ops", "wrong"))
	require.Equal(t, http.StatusOK, get("/", "ops", "pw"))
	require.Equal(t, http.StatusUnauthorized, get("/chart?k=k", "", ""))
	require.Equal(t, http.StatusServiceUnavailable, get("/healthz", "", ""), "a standby answers 503")
	ready = true
	require.Equal(t, http.StatusOK, get("/healthz", "", ""))
}

func TestPostsAreRateLimited(t *testing.T) {
	s, _ := newServer(t, Config{})
	h := s.Handler()
	codes := map[int]int{}
	for range 40 {
		r := httptest.NewRequest(http.MethodPost, "/a/x.y", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		codes[w.Code]++
	}
	require.Positive(t, codes[http.StatusTooManyRequests], "%v", codes)
}
