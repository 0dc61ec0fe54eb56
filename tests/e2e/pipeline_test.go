// Package e2e runs the whole pipeline as an operator would: the real
// Telegraf (built at the pinned version into ./bin by `make telegraf`) with
// the real sample.conf and etc/ configs, the freshly built plugin
// binaries, the Starlark script, the simulator's fakes, a real SMTP server
// and a real InfluxDB (Debian's influxd, started on a loopback port).
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

var (
	root   string
	binDir string
)

func TestMain(m *testing.M) {
	var err error
	if root, err = filepath.Abs("../.."); err != nil {
		panic(err)
	}
	os.Exit(testkit.MainWithBinaries(m, func(dir string) { binDir = dir }, "ckafka_lag", "wecom_sms_mail"))
}

func inCI() bool { return os.Getenv("CI") == "true" }

// startInflux returns a real InfluxDB, or nil when influxd is not installed
// outside CI (the InfluxDB assertions then skip).
func startInflux(tb testing.TB) *testkit.Influxd {
	tb.Helper()
	db, err := testkit.StartInfluxd(tb.TempDir())
	if err != nil {
		if inCI() {
			tb.Fatalf("starting influxd (CI must run the InfluxDB assertions; .ci/run installs Debian's influxdb): %v", err)
		}
		tb.Logf("InfluxDB assertions will be skipped: %v (apt-get install influxdb to run them)", err)
		return nil
	}
	tb.Cleanup(db.Stop)
	return db
}

type pipeline struct {
	sim      *sim.Sim
	cmd      *exec.Cmd
	log      *testkit.SyncBuffer
	influxdb *testkit.Influxd
}

// steadyGroups seeds two groups whose consumers keep pace with their
// producers (search's drains slowly): nobody is stalled.
func steadyGroups(s *sim.Sim) {
	s.SetLag("billing", "payments", 100)
	s.SetLag("search", "queries", 50)
	s.SetFlow("billing", "payments", 20, 20)
	s.SetFlow("search", "queries", 20, 21) // draining slowly: a drain ETA for the dashboard
}

func startPipeline(tb testing.TB, settings sim.Settings, influx *testkit.Influxd, seed func(*sim.Sim)) *pipeline {
	tb.Helper()
	telegraf := testkit.TelegrafBinary(tb, root)
	s, err := sim.Start(tb.TempDir())
	require.NoError(tb, err)
	tb.Cleanup(s.Close)
	seed(s)
	if settings.BinDir == "" {
		settings.BinDir = binDir
	}
	if influx != nil {
		settings.InfluxURL = influx.URL
	}
	conf := filepath.Join(root, "sample.conf")
	if len(settings.Constants) > 0 {
		conf, err = sim.WriteConfig(root, tb.TempDir(), settings.Constants)
		require.NoError(tb, err)
	}
	p := &pipeline{sim: s, log: testkit.NewSyncBuffer(), influxdb: influx}
	p.cmd = exec.Command(telegraf, "--strict-env-handling", "--config", conf)
	p.cmd.Env = s.Env(root, settings)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(tb, p.cmd.Start())
	tb.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if tb.Failed() {
			tb.Logf("Telegraf log:\n%s", p.log.String())
		}
	})
	return p
}

// child returns the pid of Telegraf's child running the named binary.
func (p *pipeline) child(name string) int { return testkit.ChildPID(p.cmd.Process.Pid, name) }

func TestPipeline(t *testing.T) {
	influx := startInflux(t)
	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1h",
		StaleAfter: "10m", RestartDelay: "1s", Language: "zh",
	}, influx, steadyGroups)
	s := p.sim

	// Lag crosses critical: after for_intervals (2) collections, one
	// message per channel naming instance, group, topic, lag and threshold.
	s.SetLag("billing", "payments", 3000)
	msg, _ := awaitLine(t, s.Robot, 30*time.Second, "CKafka 消费积压告警", "billing")
	for _, want := range []string{"ckafka-demo01", "prod", "billing", "payments", "3000", "2000", "严重"} {
		require.Contains(t, msg.Content, want)
	}
	require.NotContains(t, msg.Content, "search", "only the breaching topic")
	sms := testkit.Await(t, s.SMS.Received(), 10*time.Second, "the SMS")
	require.Equal(t, []string{"prod", "billi…", "payme…", "3000", "2000"}, sms.Params)
	mail := testkit.Await(t, s.SMTP.Received(), 10*time.Second, "the email")
	require.Contains(t, mail.Subject, "严重 1")
	require.Contains(t, mail.HTML, "<td>3000</td>")

	// Still critical for three more collections: no duplicate.
	time.Sleep(6 * time.Second)
	require.Len(t, s.Robot.Messages(), 1)
	require.Len(t, s.SMS.Messages(), 1)
	require.Len(t, s.SMTP.Messages(), 1)

	// kill -9 the output; Telegraf restarts it while the lag recovers.
	pid := p.child("wecom_sms_mail")
	require.NotZero(t, pid, "wecom_sms_mail runs under Telegraf")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	s.SetLag("billing", "payments", 100)
	resolved, _ := awaitAlertLine(t, s.Robot, 30*time.Second, "消费组 billing", "，已恢复")
	require.Contains(t, resolved.Content, "恢复")
	require.Contains(t, resolved.Content, "billing")
	testkit.Await(t, s.SMS.Received(), 10*time.Second, "the SMS resolution")
	testkit.Await(t, s.SMTP.Received(), 10*time.Second, "the email resolution")
	newPid := p.child("wecom_sms_mail")
	require.NotZero(t, newPid)
	require.NotEqual(t, pid, newPid, "Telegraf restarted the output")
	time.Sleep(4 * time.Second)
	require.Len(t, s.Robot.Messages(), 2, "the restart lost nothing and sent no duplicate")
	require.Len(t, s.SMS.Messages(), 2)
	require.Len(t, s.SMTP.Messages(), 2)

	// The collector fails: AuthFailure shows at error level, no secret.
	s.CKafka.Inject(tcapi.Fault{Code: "AuthFailure.SignatureFailure", Message: "The provided credentials could not be validated.", Times: -1})
	require.Eventually(t, func() bool {
		return strings.Contains(p.log.String(), "E! [inputs.execd::ckafka_lag] Error in plugin: region ap-guangzhou: DescribeInstances: [AuthFailure.SignatureFailure]")
	}, 20*time.Second, 100*time.Millisecond, "the collector's failure in Telegraf's log")
	time.Sleep(2 * time.Second) // one more flush to InfluxDB
	for _, secret := range []string{sim.CKafkaSecretKey, sim.SMSSecretKey, sim.SMTPPassword, sim.RobotKey} {
		require.NotContains(t, p.log.String(), secret)
	}

	t.Run("history in InfluxDB", func(t *testing.T) {
		if influx == nil {
			t.Skip("influxd is not installed: apt-get install influxdb to run the InfluxDB assertions")
		}
		series, err := influx.Query("ckafka", `SELECT max("lag"), count("alert_level") FROM "ckafka_lag" GROUP BY "group", "topic"`)
		require.NoError(t, err)
		got := map[string][]any{}
		for _, s := range series {
			got[s.Tags["group"]+"/"+s.Tags["topic"]] = s.Values[0]
		}
		require.Len(t, got, 2, "every group/topic has history: %v", got)
		require.EqualValues(t, 3000, got["billing/payments"][1])
		require.Greater(t, got["search/queries"][2], float64(0), "with alert_level")

		levels, err := influx.Query("ckafka", `SELECT "alert_level" FROM "ckafka_lag" WHERE "group" = 'billing'`)
		require.NoError(t, err)
		seen := map[any]bool{}
		for _, v := range levels[0].Values {
			seen[v[1]] = true
		}
		require.True(t, seen["critical"] && seen["ok"], "levels recorded: %v", seen)

		gather, err := influx.Query("ckafka", `SELECT max("api_errors") FROM "ckafka_lag_gather"`)
		require.NoError(t, err)
		require.Greater(t, gather[0].Values[0][1], float64(0), "the collector's failure is on the dashboard")
	})

	t.Run("Grafana dashboard queries", func(t *testing.T) {
		if influx == nil {
			t.Skip("influxd is not installed: apt-get install influxdb to run the InfluxDB assertions")
		}
		for _, q := range dashboardQueries(t) {
			series, err := influx.Query("ckafka", q)
			require.NoError(t, err, q)
			require.NotEmpty(t, series, "no data for %s", q)
		}
	})
}

// TestPipelineLagSeconds: a small backlog (under the count thresholds)
// that is old enough to cross warning_lag_seconds, with consumers faster
// than the producers: the alert says how late, which threshold fired and
// when it clears; a group whose consumers died is stalled and says nobody
// is online.
func TestPipelineLagSeconds(t *testing.T) {
	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1h",
		StaleAfter: "10m", RestartDelay: "1s", Language: "en",
		Constants: map[string]string{"warning_lag_seconds": "7", "critical_lag_seconds": "0", "stall_level": `"critical"`},
	}, nil, func(s *sim.Sim) {
		s.SetLag("etl", "events", 600) // 600 messages: below warning_lag
		s.SetFlow("etl", "events", 1, 3)
		s.SetLag("search", "queries", 0)
		s.SetFlow("search", "queries", 20, 20)
	})
	s := p.sim
	msg, _ := awaitLine(t, s.Robot, 40*time.Second, titleAlert, "group etl topic events")
	require.Contains(t, msg.Content, "group etl topic events")
	require.Regexp(t, `lag \d+, \d+s behind \(threshold 7s behind\)`, msg.Content)
	require.Regexp(t, `clears in ~\d+m\d*s?`, msg.Content)
	require.Contains(t, msg.Content, "WARNING")

	// The search consumers die: nothing is committed any more.
	s.SetGroupState("search", "Empty", 0)
	s.SetFlow("search", "queries", 20, 0)
	msg, _ = awaitLine(t, s.Robot, 40*time.Second, titleAlert, "group search topic queries")
	require.Contains(t, msg.Content, "group search topic queries")
	require.Contains(t, msg.Content, "stalled, no consumer online")
	require.Contains(t, msg.Content, "CRITICAL")
}

// TestPipelineKafka runs the pipeline once with the Kafka protocol source
// against kfake: exact lag in seconds from the first collection, an alert,
// and its resolution when the consumer catches up.
func TestPipelineKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("ckafka-e2e01"), kfake.SeedTopics(3, "payments"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx := context.Background()
	appended := time.Now().Add(-10 * time.Minute)
	for p := range int32(3) {
		for range 1100 {
			cl.Produce(ctx, &kgo.Record{Topic: "payments", Partition: p, Value: []byte("x"), Timestamp: appended}, nil)
		}
	}
	require.NoError(t, cl.Flush(ctx))
	commit := func(at int64) {
		var os kadm.Offsets
		for p := range int32(3) {
			os.AddOffset("payments", p, at, -1)
		}
		_, err := kadm.NewClient(cl).CommitOffsets(ctx, "billing", os)
		require.NoError(t, err)
	}
	commit(100) // lag 3 × 1000, appended ten minutes ago

	confDir := kafkaConfDir(t, cluster.ListenAddrs())

	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "1h",
		StaleAfter: "10m", RestartDelay: "1s", Language: "en", ConfDir: confDir,
	}, nil, func(*sim.Sim) {})
	s := p.sim
	msg, _ := awaitLine(t, s.Robot, 40*time.Second, titleAlert, "group billing topic payments")
	require.Contains(t, msg.Content, "instance self-built(ckafka-e2e01) group billing topic payments: lag 3000")
	require.Regexp(t, `lag 3000, 10m\d*s? behind`, msg.Content, "exact: the records were appended ten minutes ago")
	require.Contains(t, msg.Content, "CRITICAL")

	commit(1100)
	resolved, _ := awaitAlertLine(t, s.Robot, 40*time.Second, "group billing topic payments", ", resolved")
	require.Contains(t, resolved.Content, "resolved")
	require.NotContains(t, p.log.String(), "E! [inputs.execd::ckafka_lag]")

	// The brokers stop: the collection fails whole, and says so.
	stopped := time.Now()
	cluster.Close()
	failing, _ := awaitAlertLine(t, s.Robot, 90*time.Second, "]**</font> collection failing: ")
	require.Contains(t, failing.Content, "CRITICAL")
	require.Contains(t, failing.Content, "instance_id ckafka-e2e01")
	require.Contains(t, failing.Content, "the one group unknown")
	t.Logf("brokers stopped → \"collection failing\" message: %s (timeout 2s: each failing collection waits up to 4 × timeout)", time.Since(stopped).Round(10*time.Millisecond))
}

// dashboardQueries returns every InfluxQL query of the checked-in dashboard
// with Grafana's macros and variables filled in.
func dashboardQueries(t *testing.T) []string {
	raw, err := os.ReadFile(filepath.Join(root, "grafana", "ckafka_lag_dashboard.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Query string `json:"query"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query string `json:"query"`
				Type  string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	fill := strings.NewReplacer("$timeFilter", "time > now() - 1h", "$__interval", "10s", "$instance", ".*", "$group", ".*")
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, fill.Replace(tg.Query))
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type == "query" {
			out = append(out, fill.Replace(v.Query))
		}
	}
	require.Len(t, out, 16)
	return out
}

// kafkaConfDir is etc/ with ckafka_lag reading brokers over the Kafka
// protocol (instance_name "self-built", exact time lag, timeout 2s).
func kafkaConfDir(t *testing.T, brokers []string) string {
	t.Helper()
	confDir := t.TempDir()
	wecomConf, err := os.ReadFile(filepath.Join(root, "etc", "wecom_sms_mail.conf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(confDir, "wecom_sms_mail.conf"), wecomConf, 0o600))
	_, err = testkit.WriteFile(confDir, "ckafka_lag.conf", `[[inputs.ckafka_lag]]
  source = "kafka"
  brokers = ["`+strings.Join(brokers, `", "`)+`"]
  instance_name = "self-built"
  time_lag = "exact"
  timeout = "2s"
`)
	require.NoError(t, err)
	return confDir
}
