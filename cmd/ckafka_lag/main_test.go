package main

import (
	"bufio"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/ckafka"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

const (
	secretID  = "AKIDbinarytest00000000000000000"
	secretKey = "binary-test-secret-key-do-not-print"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(testkit.MainWithBinaries(m, func(dir string) { binary = filepath.Join(dir, "ckafka_lag") }, "ckafka_lag"))
}

func startFake(t *testing.T) (*ckafka.Fake, string) {
	t.Helper()
	fake := ckafka.New(map[string]string{secretID: secretKey})
	fake.AddInstance("ckafka-prod", "prod", ckafka.StatusRunning)
	fake.SetTopic("ckafka-prod", "billing", "payments", []ckafka.Partition{{Committed: 10, LogEnd: 2510}, {Committed: -1, LogEnd: 4}})
	fake.SetTopic("ckafka-prod", "search", "queries", []ckafka.Partition{{Committed: 3, LogEnd: 3}})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// writeConfig writes a config that takes the endpoint and the secret key
// from the environment, as an operator's would. A timeout in extra replaces
// the tests' 1s.
func writeConfig(tb testing.TB, extra string) string {
	tb.Helper()
	if !strings.Contains(extra, "timeout") {
		extra = "  timeout = \"1s\"\n" + extra
	}
	conf := `[[inputs.ckafka_lag]]
  region = "ap-guangzhou"
  endpoint = "${TEST_CKAFKA_ENDPOINT}"
  secret_id = "` + secretID + `"
  secret_key = "${TEST_CKAFKA_SECRET_KEY}"
` + extra
	p, err := testkit.WriteFile(tb.TempDir(), "ckafka_lag.conf", conf)
	require.NoError(tb, err)
	return p
}

func command(t *testing.T, url, key string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "TEST_CKAFKA_ENDPOINT="+url, "TEST_CKAFKA_SECRET_KEY="+key)
	return cmd
}

func runOnce(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

func TestOnce(t *testing.T) {
	_, url := startFake(t)
	stdout, stderr, code := runOnce(t, command(t, url, secretKey, "-config", writeConfig(t, ""), "-once"))
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stderr)
	ms, err := testkit.ParseLines([]byte(stdout))
	require.NoError(t, err)
	lags := testkit.Select(ms, "ckafka_lag")
	require.Len(t, lags, 2)
	for _, m := range lags {
		if m.Tags["topic"] == "payments" {
			require.Equal(t, int64(2500), m.Fields["lag"])
			require.Equal(t, int64(1), m.Fields["uncommitted_partitions"])
			require.Equal(t, map[string]string{"region": "ap-guangzhou", "instance_id": "ckafka-prod", "instance_name": "prod",
				"group": "billing", "topic": "payments"}, m.Tags)
		}
	}
	require.Len(t, testkit.Select(ms, "ckafka_group_lag"), 2)
	gather := testkit.Select(ms, "ckafka_lag_gather")
	require.Len(t, gather, 1)
	require.Equal(t, int64(7), gather[0].Fields["api_requests"]) // 5 for the lag, 2 for the topics' retention
	for _, m := range lags {
		require.NotContains(t, m.Fields, "produce_rate", "-once knows no rate")
		require.Equal(t, "Stable", m.Fields["group_state"])
	}
	require.NotContains(t, stdout+stderr, secretKey)
}

func TestOnceReportsErrorsAndKeepsTheRest(t *testing.T) {
	fake, url := startFake(t)
	fake.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"search"`, Code: "InternalError", Message: "boom"})
	stdout, stderr, code := runOnce(t, command(t, url, secretKey, "-config", writeConfig(t, ""), "-once"))
	require.Equal(t, 1, code)
	require.Regexp(t, `(?m)^E! Error in plugin: region ap-guangzhou instance ckafka-prod group "search": DescribeGroupOffsets: \[InternalError\] boom \(RequestId [0-9a-f-]+\)$`, stderr)
	ms, err := testkit.ParseLines([]byte(stdout))
	require.NoError(t, err)
	require.Len(t, testkit.Select(ms, "ckafka_lag"), 1)
	require.Equal(t, int64(1), testkit.Select(ms, "ckafka_lag_gather")[0].Fields["api_errors"])
}

func TestOnceAuthFailureNamesSourceNotSecret(t *testing.T) {
	_, url := startFake(t)
	wrong := "wrong-secret-key-also-never-printed"
	stdout, stderr, code := runOnce(t, command(t, url, wrong, "-config", writeConfig(t, ""), "-once", "-debug"))
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "E! ")
	require.Contains(t, stderr, "AuthFailure.SignatureFailure")
	require.Contains(t, stderr, "credentials from secret_id/secret_key from the configuration")
	require.Equal(t, 1, strings.Count(stderr, "AuthFailure"), stderr)
	require.NotContains(t, stdout+stderr, wrong)
	require.NotContains(t, stdout+stderr, secretKey)
	ms, err := testkit.ParseLines([]byte(stdout))
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, "ckafka_lag_gather", ms[0].Name)
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{"unknown key", "[[inputs.ckafka_lag]]\n  region = \"ap-guangzhou\"\n  instance_idz = [\"x\"]\n", `"inputs.ckafka_lag.instance_idz"`},
		{"missing region", "[[inputs.ckafka_lag]]\n  secret_id = \"a\"\n  secret_key = \"b\"\n", "region is required"},
		{"other plugin", "[[inputs.cpu]]\n", "unexpected table [[inputs.cpu]]"},
		{"two tables", "[[inputs.ckafka_lag]]\n[[inputs.ckafka_lag]]\n", "2 [[inputs.ckafka_lag]] tables"},
		{"bad toml", "[[inputs.ckafka_lag]\n", "parsing config"},
		{"wrong type", "[[inputs.ckafka_lag]]\n  max_concurrency = \"many\"\n", "max_concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := testkit.WriteFile(t.TempDir(), "c.conf", tt.config)
			require.NoError(t, err)
			_, stderr, code := runOnce(t, command(t, "http://127.0.0.1:1", secretKey, "-config", p))
			require.NotEqual(t, 0, code)
			require.Contains(t, stderr, "E! ")
			require.Contains(t, stderr, tt.want)
		})
	}
}

// TestShimDrivenByStdin runs the binary the way inputs.execd does with
// signal = "STDIN": a line on stdin asks for one collection.
func TestShimDrivenByStdin(t *testing.T) {
	fake, url := startFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(t, url, secretKey, "-config", writeConfig(t, ""), "-poll_interval_disabled")
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "TEST_CKAFKA_ENDPOINT="+url, "TEST_CKAFKA_SECRET_KEY="+secretKey)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdoutPipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := testkit.NewSyncBuffer()
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdoutPipe)

	readCollection := func() []testkit.Metric {
		var ms []testkit.Metric
		for lines.Scan() {
			parsed, err := testkit.ParseLines(append(lines.Bytes(), '\n'))
			require.NoError(t, err)
			ms = append(ms, parsed...)
			if parsed[0].Name == "ckafka_lag_gather" {
				return ms
			}
		}
		t.Fatalf("stdout ended: %v; stderr: %s", lines.Err(), stderr.String())
		return nil
	}

	// Nothing is collected until asked.
	time.Sleep(200 * time.Millisecond)
	require.Zero(t, fake.Stats().Requests)

	_, err = io.WriteString(stdin, "\n")
	require.NoError(t, err)
	first := readCollection()
	require.Len(t, testkit.Select(first, "ckafka_lag"), 2)

	fake.SetPartition("ckafka-prod", "search", "queries", 0, ckafka.Partition{Committed: 3, LogEnd: 4003})
	fake.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"billing"`, Code: "InternalError", Message: "boom"})
	_, err = io.WriteString(stdin, "\n")
	require.NoError(t, err)
	second := readCollection()
	lags := testkit.Select(second, "ckafka_lag")
	require.Len(t, lags, 1)
	require.Equal(t, int64(4000), lags[0].Fields["lag"])
	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), "E! Error in plugin: region ap-guangzhou instance ckafka-prod group \"billing\"")
	},
		5*time.Second, 10*time.Millisecond, stderr.String())
	for _, m := range testkit.Select(first, "ckafka_lag") {
		require.NotContains(t, m.Fields, "produce_rate", "first collection")
	}

	// Producers start on queries; billing's failed collection left a gap
	// in its history, not a hole in its rates.
	fake.SetFlow("ckafka-prod", "search", "queries", 2000, 0)
	time.Sleep(500 * time.Millisecond)
	_, err = io.WriteString(stdin, "\n")
	require.NoError(t, err)
	third := map[string]testkit.Metric{}
	for _, m := range testkit.Select(readCollection(), "ckafka_lag") {
		third[m.Tags["group"]] = m
	}
	require.Len(t, third, 2)
	require.Greater(t, third["search"].Fields["produce_rate"], 500.0)
	require.Equal(t, 0.0, third["search"].Fields["consume_rate"])
	require.Greater(t, third["search"].Fields["lag_seconds"], 0.0)
	require.Equal(t, 0.0, third["billing"].Fields["produce_rate"], "rate against the first collection")
	require.Equal(t, 0.0, third["billing"].Fields["consume_rate"])
	require.Contains(t, third["billing"].Fields, "lag_seconds")

	// Closing stdin stops the binary cleanly.
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait(), stderr.String())
	require.NotContains(t, stderr.String(), secretKey)
}
