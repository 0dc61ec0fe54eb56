package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// -test-notify names the member's role without joining the group.
func TestTestNotifySaysTheClusterRole(t *testing.T) {
	kafka := pairCluster(t)
	brokers := kafka.ListenAddrs()
	a := startMember(t, "host-a", memberConfig(t, "host-a", brokers, webhookDest(t)))
	defer a.stop()
	a.await(t, "Cluster: active", 30*time.Second)

	cmd := exec.Command(binary, "-config", memberConfig(t, "host-b", brokers, webhookDest(t)), "-test-notify")
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "cluster ckafka_lag_alerting/ckafka_lag_alerting: member host-b: standby (active: host-a)\n")
}

// Brokers that do not answer at start stop the output with an error naming
// cluster.brokers; with fallback_after it runs stand-alone after it.
func TestUnreachableBrokers(t *testing.T) {
	conf := memberConfig(t, "host-a", []string{"127.0.0.1:1"}, webhookDest(t))
	cmd := exec.Command(binary, "-config", conf)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "cluster.brokers [127.0.0.1:1]")

	fallback, err := testkit.WriteFile(t.TempDir(), "fallback.conf",
		fmt.Sprintf("[[outputs.wecom_sms_mail]]\n%s  [outputs.wecom_sms_mail.cluster]\n    brokers = [\"127.0.0.1:1\"]\n    session_timeout = \"1s\"\n    fallback_after = \"2s\"\n", webhookDest(t)))
	require.NoError(t, err)
	m := startMember(t, "fallback", fallback)
	defer m.stop()
	m.await(t, "running STAND-ALONE", 30*time.Second)
}

// A session timeout the coordinator refuses (4s under kfake's and Kafka's
// default group.min.session.timeout.ms of 6s): -test-notify says so before
// a restart, the running member logs the broker's error with the key to
// change and the range, and with fallback_after it runs stand-alone as when
// the brokers are unreachable (before, it stood by for ever, saying only
// that it waited for the lease).
func TestRefusedSessionTimeout(t *testing.T) {
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(kafka.Close)
	brokers := kafka.ListenAddrs()
	conf := func(extra string) string {
		path, err := testkit.WriteFile(t.TempDir(), "member.conf", fmt.Sprintf("[[outputs.wecom_sms_mail]]\n  state_file = %q\n%s"+
			"  [outputs.wecom_sms_mail.cluster]\n    brokers = [%q]\n    member_name = \"host-a\"\n    session_timeout = \"4s\"\n%s",
			filepath.Join(t.TempDir(), "state"), webhookDest(t), brokers[0], extra))
		require.NoError(t, err)
		return path
	}

	out, err := exec.Command(binary, "-config", conf(""), "-test-notify").Output()
	require.Error(t, err, "a session timeout the brokers refuse fails the check")
	require.Contains(t, string(out), "cluster.session_timeout: 4s is outside the range the brokers accept (6s to 5m0s")

	m := startMember(t, "host-a", conf(`    fallback_after = "3s"`+"\n"))
	defer m.stop()
	m.await(t, `the group coordinator refused to join group "ckafka_lag_alerting": INVALID_SESSION_TIMEOUT`, 30*time.Second)
	m.await(t, "set cluster.session_timeout (now 4s) within the range the brokers accept: 6s to 5m0s", time.Second)
	m.await(t, `group "ckafka_lag_alerting" refused this member`, 30*time.Second)
	m.await(t, "running STAND-ALONE", time.Second)
}

// -test-notify names a cluster topic the lease cannot work on: more than
// one partition, no compaction.
func TestTestNotifyChecksTheTopic(t *testing.T) {
	kafka := pairCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.ListenAddrs()...))
	require.NoError(t, err)
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), 3, -1, nil, "ckafka_lag_alerting")
	require.NoError(t, err)
	out, err := exec.Command(binary, "-config", memberConfig(t, "host-b", kafka.ListenAddrs(), webhookDest(t)), "-test-notify").Output()
	require.Error(t, err, string(out))
	require.Contains(t, string(out), `cluster.topic: topic "ckafka_lag_alerting" has 3 partitions; it must have exactly 1`)
	require.Contains(t, string(out), `cluster.topic: topic "ckafka_lag_alerting" has cleanup.policy=delete; set it to compact`)
}

// webhookDest is a webhook table whose receiver accepts everything.
func webhookDest(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	return fmt.Sprintf("  [outputs.wecom_sms_mail.webhook]\n    urls = [%q]\n", srv.URL+"/alerts")
}

// -test-notify checks that the page's external_url answers.
func TestTestNotifyChecksThePage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	conf, err := testkit.WriteFile(t.TempDir(), "web.conf", fmt.Sprintf("[[outputs.wecom_sms_mail]]\n  state_file = %q\n%s"+
		"  [outputs.wecom_sms_mail.web]\n    listen = %q\n    external_url = %q\n    link_secret = \"0123456789abcdef0123\"\n",
		filepath.Join(t.TempDir(), "state"), webhookDest(t), addr, "http://"+addr))
	require.NoError(t, err)
	out, err := exec.Command(binary, "-config", conf, "-test-notify").Output()
	require.Error(t, err, "nothing serves the page yet")
	require.Contains(t, string(out), "web http://"+addr+": ")
	require.NotContains(t, string(out), "web http://"+addr+": ok")

	m := startMember(t, "page", conf)
	defer m.stop()
	m.await(t, "Alert page and links: ", 30*time.Second)
	out, err = exec.Command(binary, "-config", conf, "-test-notify").Output()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "web http://"+addr+": ok\n")
}
