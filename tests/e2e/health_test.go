package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/tcapi"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// beats is a dead-man's-switch receiver: it records when each ping came.
type beats struct {
	mu sync.Mutex
	at []time.Time
}

func (b *beats) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	b.at = append(b.at, time.Now())
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (b *beats) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.at) }

// since returns when ping i came.
func (b *beats) since(i int) time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.at[i] }

// healthConfDir is etc/ with the heartbeat table pointing at url.
func healthConfDir(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"ckafka_lag.conf", "wecom_sms_mail.conf"} {
		raw, err := os.ReadFile(filepath.Join(root, "etc", name))
		require.NoError(t, err)
		if name == "wecom_sms_mail.conf" {
			raw = append(raw, []byte("\n  [outputs.wecom_sms_mail.heartbeat]\n    urls = [\""+url+"/ping/0b1d-secret\"]\n    interval = \"2s\"\n")...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), raw, 0o600))
	}
	return dir
}

// binDirWith links the built binaries into a directory of the test's own,
// so that the collector can be swapped for a broken one.
func binDirWith(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"ckafka_lag", "wecom_sms_mail"} {
		require.NoError(t, os.Symlink(filepath.Join(binDir, name), filepath.Join(dir, name)))
	}
	return dir
}

// titleAlert is the title of an English message with a firing lag alert.
const titleAlert = "CKafka consumer lag alert"

// awaitAlertLine reads robot messages until one has a line containing
// every one of parts (an alert's own line: its title depends on what
// else the group window held), and returns it with every message read.
func awaitAlertLine(t *testing.T, r *wecom.Robot, within time.Duration, parts ...string) (wecom.Message, []wecom.Message) {
	t.Helper()
	return testkit.AwaitMatch(t, r.Received(), within, fmt.Sprintf("a robot message with a line with %q", parts), wecom.HasLine(parts...))
}

// awaitLine reads robot messages until one titled title contains want, and
// returns it with every message read on the way. The title names the kind
// of message: a reminder and a collector alert may carry the same words.
func awaitLine(t *testing.T, r *wecom.Robot, within time.Duration, title, want string) (wecom.Message, []wecom.Message) {
	t.Helper()
	return testkit.AwaitMatch(t, r.Received(), within, fmt.Sprintf("a robot message titled %q with %q", title, want), wecom.Titled(title, want))
}

// TestCollectorHealth: the real Telegraf with sample.conf; the collector's
// key is revoked mid-incident, one group fails, a group is deleted, and the
// collector crash-loops. Each is told, no alert is resolved for lack of
// data, and the heartbeat goes only while the collection is clean.
func TestCollectorHealth(t *testing.T) {
	hb := &beats{}
	hbSrv := httptest.NewServer(hb)
	defer hbSrv.Close()
	bins := binDirWith(t)
	p := startPipeline(t, sim.Settings{
		Interval: "2s", FlushInterval: "1s", GroupWait: "1s", RepeatInterval: "6s",
		StaleAfter: "8s", RestartDelay: "1s", Language: "en", BinDir: bins,
		ConfDir: healthConfDir(t, hbSrv.URL),
	}, nil, steadyGroups)
	s := p.sim
	robot := s.Robot

	s.SetLag("billing", "payments", 3000)
	awaitLine(t, robot, 30*time.Second, titleAlert, "group billing topic payments: lag 3000")
	require.Eventually(t, func() bool { return hb.count() > 0 }, 20*time.Second, 100*time.Millisecond, "the heartbeat while healthy")

	// The key is revoked mid-incident.
	revoked := time.Now()
	s.CKafka.Inject(tcapi.Fault{Code: "AuthFailure.SecretIdNotFound", Message: "The SecretId is not found.", Times: -1})
	failing, _ := awaitAlertLine(t, robot, 30*time.Second, "]**</font> collection failing: AuthFailure.SecretIdNotFound")
	toFailing := time.Since(revoked)
	require.True(t, wecom.HasLine("**[CRITICAL]**</font> collection failing: ")(failing), failing.Content)
	require.Contains(t, failing.Content, "region ap-guangzhou")
	require.Contains(t, failing.Content, "groups unknown")
	t.Logf("revocation → \"collection failing\" message: %s (interval 2s, collect_failing_after 2, flush 1s, group_wait 1s)", toFailing.Round(10*time.Millisecond))
	beatsAtFailure := hb.count()

	// Past stale_after (8s): the lag alert is not resolved; its reminder
	// says the lag is unknown.
	var seen []wecom.Message
	for time.Since(failing.At) < 12*time.Second {
		var got []wecom.Message
		_, got = awaitLine(t, robot, 20*time.Second, titleAlert, "lag unknown since")
		seen = append(seen, got...)
	}
	for _, m := range seen {
		require.NotContains(t, m.Content, "RESOLVED", "nothing is resolved while the collector is blind")
	}
	require.Contains(t, seen[len(seen)-1].Content, "(collection failing: AuthFailure.SecretIdNotFound); last known: lag 3000")
	require.LessOrEqual(t, hb.count(), beatsAtFailure+1, "no heartbeat while the collection fails (one may have been on its way)")
	quietFrom := hb.count()

	// The key comes back.
	cleared := time.Now()
	s.CKafka.ClearFaults()
	awaitAlertLine(t, robot, 30*time.Second, "]**</font> collection recovered (")
	require.Eventually(t, func() bool { return hb.count() > quietFrom }, 20*time.Second, 100*time.Millisecond, "the heartbeat again")
	require.False(t, hb.since(quietFrom).Before(cleared), "no heartbeat until the key was back")

	// One group fails: a warning naming the count.
	s.CKafka.Inject(tcapi.Fault{Action: "DescribeGroupOffsets", BodyContains: `"Group":"search"`, Code: "InternalError", Message: "boom", Times: -1})
	partial, _ := awaitAlertLine(t, robot, 30*time.Second, "]**</font> collection failing: InternalError")
	require.True(t, wecom.HasLine("**[WARNING]**</font> collection failing: InternalError", "1 group unknown")(partial), partial.Content)
	s.CKafka.ClearFaults()
	awaitAlertLine(t, robot, 30*time.Second, "]**</font> collection recovered (")

	// billing is deleted while its alert fires: resolved as gone after
	// stale_after, not as "no data".
	s.CKafka.RemoveGroup(sim.InstanceID, "billing")
	gone, _ := awaitAlertLine(t, robot, 30*time.Second, "(group no longer reported)")
	require.Contains(t, gone.Content, "group billing topic payments")

	// The collector crash-loops: Telegraf restarts a binary that exits at once.
	broken := filepath.Join(bins, "ckafka_lag")
	require.NoError(t, os.Remove(broken))
	require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho 'E! broken build' >&2\nexit 1\n"), 0o755))
	pid := p.child("ckafka_lag")
	require.NotZero(t, pid)
	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	awaitAlertLine(t, robot, 40*time.Second, "**[CRITICAL]**</font> collector silent: no collection since")
	toSilent := time.Since(killed)
	t.Logf("collector crash loop → \"collector silent\" message: %s (bound: 3 × 2s learned interval + tick + group_wait 1s)", toSilent.Round(10*time.Millisecond))
	require.Less(t, toSilent, 6*time.Second+2*time.Second+time.Second+5*time.Second, "within 3 × the interval, a tick, group_wait and a flush")
}
