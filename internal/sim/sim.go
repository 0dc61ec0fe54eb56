// Package sim runs everything the pipeline talks to, on 127.0.0.1: the
// CKafka API fake with a scriptable state, a WeCom robot, the SMS API, a
// real SMTP server, and (for the demo) an InfluxDB write sink. Env returns
// the environment that points the real sample.conf at them. The demo and
// the end-to-end tests share it.
package sim

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/sms"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/smtpd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// Credentials the fakes accept. They are test values, printed nowhere.
const (
	CKafkaSecretID  = "AKIDsimckafka000000000000000000"
	CKafkaSecretKey = "sim-ckafka-secret-key-not-for-logs"
	SMSSecretID     = "AKIDsimsms0000000000000000000000"
	SMSSecretKey    = "sim-sms-secret-key-not-for-logs"
	RobotKey        = "0a1b2c3d-sim0-4e5f-8a9b-robotkey9f3a"
	SMTPUser        = "alerts@example.com"
	SMTPPassword    = "sim-smtp-password-not-for-logs"
	SMSAppID        = "1400000001"
	SMSTemplateID   = "2001"
	// SMSListTemplateID is a one-variable template for a message that
	// lists every alert (the chaos run's ledger reads it).
	SMSListTemplateID = "2002"
	Phone             = "13800000001"
	Region            = "ap-guangzhou"
	InstanceID        = "ckafka-demo01"
	InstanceName      = "prod"
)

// Sim is a running simulator.
type Sim struct {
	Dir    string
	CKafka *ckafka.Fake
	Robot  *wecom.Robot
	SMS    *sms.Fake
	SMTP   *smtpd.Server
	Influx *InfluxSink

	CKafkaURL, RobotURL, SMSURL, InfluxURL string
	CAFile                                 string

	servers []*httptest.Server
}

// Start runs the fakes; dir holds the CA file and state.
func Start(dir string) (*Sim, error) {
	s := &Sim{
		Dir:    dir,
		CKafka: ckafka.New(map[string]string{CKafkaSecretID: CKafkaSecretKey}),
		Robot:  wecom.New(RobotKey),
		SMS:    sms.New(map[string]string{SMSSecretID: SMSSecretKey}, map[string]int{SMSTemplateID: 5, SMSListTemplateID: 1}),
		Influx: &InfluxSink{batches: make(chan []testkit.Metric, 1024)},
	}
	s.CKafka.AddInstance(InstanceID, InstanceName, ckafka.StatusRunning)
	s.CKafkaURL = s.serve(s.CKafka)
	s.RobotURL = s.serve(s.Robot) + "/cgi-bin/webhook/send?key=" + RobotKey
	s.SMSURL = s.serve(s.SMS)
	s.InfluxURL = s.serve(s.Influx)
	var err error
	if s.SMTP, err = smtpd.Start(smtpd.Options{Mode: smtpd.StartTLS, Username: SMTPUser, Password: SMTPPassword}); err != nil {
		s.Close()
		return nil, err
	}
	s.CAFile = filepath.Join(dir, "smtp-ca.pem")
	if err := os.WriteFile(s.CAFile, s.SMTP.CAPEM, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sim) serve(h http.Handler) string {
	srv := httptest.NewServer(h)
	s.servers = append(s.servers, srv)
	return srv.URL
}

// Close stops every server.
func (s *Sim) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
	if s.SMTP != nil {
		s.SMTP.Close()
	}
}

// Partitions is how many partitions SetLag gives a topic: the table of
// the demo shows rates per topic, SetFlow takes them per partition.
const Partitions = 3

// SetLag gives a group's topic three partitions whose lags sum to lag, by
// moving the committed offsets: log end offsets never go back, as in a
// real topic.
func (s *Sim) SetLag(group, topic string, lag int64) {
	shares := []int64{lag / 2, lag / 4, lag - lag/2 - lag/4} // Partitions
	current := s.CKafka.Offsets(InstanceID, group, topic)
	parts := make([]ckafka.Partition, len(shares))
	for i, share := range shares {
		logEnd := int64(1_000_000)
		if i < len(current) {
			logEnd = current[i].LogEnd
		}
		logEnd = max(logEnd, share)
		parts[i] = ckafka.Partition{Committed: logEnd - share, LogEnd: logEnd}
	}
	s.CKafka.SetTopic(InstanceID, group, topic, parts)
	s.CKafka.SetRetention(InstanceID, topic, Retention)
}

// Retention is what the simulator's topics keep: three days, CKafka's
// common setting, far from the backlogs of the demo.
const Retention = 72 * time.Hour

// SetFlow makes a group's topic move: producers add produce messages a
// second to each of its partitions, consumers commit consume a second
// (never past the log end). Equal rates keep the lag steady; 0, 0 stops
// both. The topic must exist (SetLag).
func (s *Sim) SetFlow(group, topic string, produce, consume float64) {
	s.CKafka.SetFlow(InstanceID, group, topic, produce, consume)
}

// SetGroupState sets what DescribeGroupInfo says of a group.
func (s *Sim) SetGroupState(group, state string, members int) {
	s.CKafka.SetGroupState(InstanceID, group, state, members)
}

// WriteConfig copies root/sample.conf into dir with the given
// [processors.starlark.constants] values replaced (name → TOML value, e.g.
// "warning_lag_seconds" → "300"), and returns its path. The constants are
// numbers, which sample.conf cannot take from the environment under
// --strict-env-handling.
func WriteConfig(root, dir string, constants map[string]string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "sample.conf"))
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(raw), "\n")
	replaced := map[string]bool{}
	for i, line := range lines {
		name, _, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if v, want := constants[name]; ok && want && strings.HasPrefix(line, "    ") {
			lines[i] = "    " + name + " = " + v
			replaced[name] = true
		}
	}
	for name := range constants {
		if !replaced[name] {
			return "", fmt.Errorf("sample.conf has no constant %q", name)
		}
	}
	path := filepath.Join(dir, "sample.conf")
	return path, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600)
}

// Settings are the pipeline's knobs that tests and the demo shorten.
type Settings struct {
	Interval, FlushInterval, GroupWait, RepeatInterval, StaleAfter, RestartDelay string
	Language                                                                     string
	InfluxURL                                                                    string // defaults to the sink
	BinDir                                                                       string // defaults to root/bin
	// Constants replace the script's constants of sample.conf (see
	// WriteConfig); empty runs sample.conf as it is.
	Constants map[string]string
	// ConfDir holds the plugin configs, root/etc by default.
	ConfDir string
	// StateDir holds the state files, the simulator's directory by default.
	StateDir string
}

// Env is the environment for `telegraf --config sample.conf` against the
// simulator, with the binaries in root/bin and configs from root.
func (s *Sim) Env(root string, st Settings) []string {
	influx := st.InfluxURL
	if influx == "" {
		influx = s.InfluxURL
	}
	binDir := st.BinDir
	if binDir == "" {
		binDir = filepath.Join(root, "bin")
	}
	confDir := st.ConfDir
	if confDir == "" {
		confDir = filepath.Join(root, "etc")
	}
	stateDir := st.StateDir
	if stateDir == "" {
		stateDir = s.Dir
	}
	vars := map[string]string{
		"CKAFKA_LAG_INTERVAL":       st.Interval,
		"CKAFKA_LAG_FLUSH_INTERVAL": st.FlushInterval,
		"CKAFKA_LAG_STATE_DIR":      stateDir,
		"CKAFKA_LAG_BIN_DIR":        binDir,
		"CKAFKA_LAG_CONF_DIR":       confDir,
		"CKAFKA_LAG_SCRIPT":         filepath.Join(root, "plugins", "processors", "starlark", "ckafka_lag_alert.star"),
		"CKAFKA_LAG_RESTART_DELAY":  st.RestartDelay,
		"CKAFKA_REGION":             Region,
		"CKAFKA_SECRET_ID":          CKafkaSecretID,
		"CKAFKA_SECRET_KEY":         CKafkaSecretKey,
		"CKAFKA_ENDPOINT":           s.CKafkaURL,
		"INFLUX_URL":                influx,
		"INFLUX_DATABASE":           "ckafka",
		"WECOM_ROBOT_KEY":           s.RobotURL,
		"SMS_SECRET_ID":             SMSSecretID,
		"SMS_SECRET_KEY":            SMSSecretKey,
		"SMS_ENDPOINT":              s.SMSURL,
		"SMS_SDK_APP_ID":            SMSAppID,
		"SMS_SIGN_NAME":             "演示",
		"SMS_TEMPLATE_ID":           SMSTemplateID,
		"ALERT_PHONE":               Phone,
		"SMTP_HOST":                 "127.0.0.1",
		"SMTP_PORT":                 strconv.Itoa(s.SMTP.Port()),
		"SMTP_TLS_MODE":             "starttls",
		"SMTP_TLS_CA":               s.CAFile,
		"SMTP_USERNAME":             SMTPUser,
		"SMTP_PASSWORD":             SMTPPassword,
		"ALERT_EMAIL_FROM":          "CKafka Alerts <" + SMTPUser + ">",
		"ALERT_EMAIL_TO":            "oncall@example.com",
		"ALERT_GROUP_WAIT":          st.GroupWait,
		"ALERT_REPEAT_INTERVAL":     st.RepeatInterval,
		"ALERT_STALE_AFTER":         st.StaleAfter,
		"ALERT_LANGUAGE":            st.Language,
	}
	env := os.Environ()
	for k, v := range vars {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// InfluxSink accepts InfluxDB 1.x writes (/ping, /query, /write) and hands
// each parsed batch on, so the demo can print the lag table without a real
// InfluxDB. The end-to-end tests use a real influxd instead.
type InfluxSink struct {
	mu      sync.Mutex
	points  int
	batches chan []testkit.Metric
}

// Batches delivers every write.
func (i *InfluxSink) Batches() <-chan []testkit.Metric { return i.batches }

// Points counts the points written.
func (i *InfluxSink) Points() int { i.mu.Lock(); defer i.mu.Unlock(); return i.points }

func (i *InfluxSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ping":
		w.WriteHeader(http.StatusNoContent)
	case "/query":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	case "/write":
		var reader io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" { // Telegraf's default
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reader = gz
		}
		body, err := io.ReadAll(reader)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ms, err := testkit.ParseLines(body)
		if err != nil {
			http.Error(w, fmt.Sprintf(`{"error":%q}`, err.Error()), http.StatusBadRequest)
			return
		}
		i.mu.Lock()
		i.points += len(ms)
		i.mu.Unlock()
		select {
		case i.batches <- ms:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}
