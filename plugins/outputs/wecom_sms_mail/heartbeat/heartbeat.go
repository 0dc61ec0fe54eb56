// Package heartbeat pings dead-man's-switch receivers (healthchecks.io,
// Cronitor, Uptime Kuma push monitors, a plain URL) while the pipeline is
// healthy, so that something outside notices when it is not: a dead host,
// Telegraf, output or collector sends nothing at all.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
)

// Config is [outputs.wecom_sms_mail.heartbeat].
type Config struct {
	URLs     []string        `toml:"urls"`
	Interval config.Duration `toml:"interval"`
	Method   string          `toml:"method"`
}

// Sender pings the URLs.
type Sender struct {
	urls     []string
	method   string
	interval time.Duration
	client   *http.Client
	log      telegraf.Logger
	// retryBase is the first wait between attempts; tests shorten it.
	retryBase time.Duration
}

// New validates the table.
func New(cfg *Config, client *http.Client, log telegraf.Logger) (*Sender, error) {
	s := &Sender{method: strings.ToUpper(cfg.Method), interval: time.Duration(cfg.Interval), client: client, log: log, retryBase: time.Second}
	if s.method == "" {
		s.method = http.MethodGet
	}
	if s.method != http.MethodGet && s.method != http.MethodPost && s.method != http.MethodHead {
		return nil, fmt.Errorf("heartbeat.method: %q is not GET, HEAD or POST", cfg.Method)
	}
	if s.interval == 0 {
		s.interval = time.Minute
	}
	if s.interval < time.Second {
		return nil, fmt.Errorf("heartbeat.interval: %s is under 1s", s.interval)
	}
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("heartbeat.urls[%d]: want an http(s) URL, got %q", i, Shown(raw))
		}
		s.urls = append(s.urls, raw)
	}
	return s, nil
}

// Interval is how often the heartbeat goes.
func (s *Sender) Interval() time.Duration { return s.interval }

// URLs are the receivers.
func (s *Sender) URLs() []string { return s.urls }

// Shown is a URL as logs may show it: scheme and host. A ping URL's path
// is its secret (anyone who has it can keep a dead check green).
func Shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + "/***"
}

// Beat pings every URL, each on its own: a receiver that fails is retried
// with backoff within the interval and logged, and never delays the
// others or anything else.
func (s *Sender) Beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.interval)
	defer cancel()
	done := make(chan struct{}, len(s.urls))
	for _, u := range s.urls {
		go func() {
			defer func() { done <- struct{}{} }()
			// Not logged when the output is stopping.
			if err := s.ping(ctx, u); err != nil && !errors.Is(ctx.Err(), context.Canceled) {
				s.log.Warnf("heartbeat %s: %v", Shown(u), err)
			}
		}()
	}
	for range s.urls {
		<-done
	}
}

// ping tries one URL until it answers 2xx or the context ends.
func (s *Sender) ping(ctx context.Context, u string) error {
	wait := s.retryBase
	for {
		err := s.Ping(ctx, u)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Ping makes one request; -test-notify calls it for each URL.
func (s *Sender) Ping(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, s.method, u, nil)
	if err != nil {
		return errors.New("bad URL")
	}
	req.Header.Set("User-Agent", "wecom_sms_mail-heartbeat")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL, with its secret path, stays out
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
