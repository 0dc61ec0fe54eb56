package wecom_sms_mail

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	fakewecom "github.com/ckafka-lag/telegraf-ckafka-lag/internal/fakes/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/notify/wecom"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/web"
)

const linkSecret = "link-secret-never-in-logs-0123456789"

// browser is a headless Chromium (Debian's chromium). Outside CI a machine
// without it skips the test, saying so; in CI it must be there.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (.ci/run installs Debian's chromium): %v", err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(420, 900)) // a phone's width
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ctx, cancelRun := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelRun)
	require.NoError(t, chromedp.Do(ctx), "starting chromium")
	return ctx
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// linkOf finds the link labelled label on the group's line of a robot
// message.
func linkOf(t *testing.T, m fakewecom.Message, group, label string) string {
	t.Helper()
	for line := range strings.Lines(m.Content) {
		if strings.Contains(line, "消费组 "+group+" ") {
			found := regexp.MustCompile(`\[` + regexp.QuoteMeta(label) + `\]\((http[^)]+)\)`).FindStringSubmatch(line)
			require.NotNil(t, found, "no %q link in %s", label, line)
			return found[1]
		}
	}
	t.Fatalf("no line about %s in %s", group, m.Content)
	return ""
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	require.NoError(t, err)
	path := filepath.Join(t.ArtifactDir(), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// awaitMessage waits for the robot message titled title that contains s:
// the title names the kind of message, since a line like "张三 已认领" is
// also carried by a grouped alert message.
func awaitMessage(t *testing.T, r *fakewecom.Robot, title, s string) fakewecom.Message {
	t.Helper()
	var found fakewecom.Message
	require.Eventually(t, func() bool {
		for _, m := range r.Messages() {
			if m.Title() == title && strings.Contains(m.Content, s) {
				found = m
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a message titled %q with %q", title, s)
	return found
}

// awaitMessageAfter waits for the first robot message accepted after since
// that match accepts.
func awaitMessageAfter(t *testing.T, r *fakewecom.Robot, since time.Time, match func(fakewecom.Message) bool) fakewecom.Message {
	t.Helper()
	var found fakewecom.Message
	require.Eventually(t, func() bool {
		for _, m := range r.Messages() {
			if m.At.After(since) && match(m) {
				found = m
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a message after %s", since.Format(time.TimeOnly))
	return found
}

// TestLinksInABrowser: an alert fires, its claim link is opened in a real
// Chromium, a name is typed and the button pressed; the page confirms, the
// robot hears "claimed by", no reminder follows. A silence link silences,
// the list page shows the silence, its expire button ends it; an expired
// and a tampered link change nothing.
func TestLinksInABrowser(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	addr := freeAddr(t)
	base := "http://" + addr
	p := e.plugin(t, func(p *WeComSMSMail) {
		p.SMS, p.Email = nil, nil
		p.RepeatInterval = config.Duration(time.Second)
		p.StateFile = filepath.Join(t.TempDir(), "state.json")
		p.WeCom = &wecom.Config{WebhookURLs: []string{e.urls.robot + "/cgi-bin/webhook/send?key=" + robotKey}}
		p.Web = &WebConfig{Listen: addr, ExternalURL: base, LinkSecret: config.NewSecret([]byte(linkSecret))}
	})
	require.NoError(t, p.Write([]telegraf.Metric{lagMetric("billing", "critical", 2500, 2000), lagMetric("search", "warning", 1500, 1000)}))
	first := awaitMessage(t, e.robot, "CKafka 消费积压告警", "billing")
	require.Contains(t, first.Content, "[静默 1 小时](")
	claim := linkOf(t, first, "billing", "认领")
	require.True(t, strings.HasPrefix(claim, base+"/a/"), claim)

	// An expired and a tampered link: a clear page, nothing changed.
	expired := base + "/a/" + web.Sign([]byte(linkSecret), web.Claims{Action: web.ActionClaim, Alert: "x", Expires: time.Now().Add(-time.Minute).Unix()})
	text := textAt(t, ctx, expired, "message")
	require.Contains(t, text, "已过期")
	tampered := claim[:len(claim)-3] + strings.Map(func(r rune) rune { return r ^ 1 }, claim[len(claim)-3:])
	text = textAt(t, ctx, tampered, "message")
	require.Contains(t, text, "无效")
	resp, err := http.PostForm(tampered, map[string][]string{"name": {"mallory"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	a, _ := p.engine.Alert(keyOf(t, p, "billing"))
	require.Empty(t, a.ClaimedBy, "a bad link changes nothing")

	// Claim: GET shows the confirmation page and changes nothing.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(claim), chromedp.WaitVisible(chromedp.ID("name"))))
	screenshot(t, ctx, "confirm.png")
	a, _ = p.engine.Alert(keyOf(t, p, "billing"))
	require.Empty(t, a.ClaimedBy, "GET changes nothing")
	clicked := time.Now()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("name"), "张三"),
		chromedp.Click(chromedp.ID("confirm")),
		chromedp.WaitVisible(chromedp.ID("message"))))
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("message")))
	require.NoError(t, err)
	require.Contains(t, text, "张三 已认领")
	screenshot(t, ctx, "claimed.png")
	claimedAt := time.Now()
	// The claim notice: the first message after the click with billing's
	// line claimed. Alone in its window it is titled "CKafka 告警已认领";
	// search's reminder (repeat 1 s) may share the window and the title.
	told := awaitMessageAfter(t, e.robot, clicked, fakewecom.HasLine("消费组 billing", "张三 已认领"))
	if !strings.Contains(told.Content, "消费组 search") {
		require.Equal(t, "CKafka 告警已认领", told.Title())
	}

	// The same link again: already used.
	text = textAt(t, ctx, claim, "message")
	require.Contains(t, text, "已于")

	// Silence search for an hour; the name is remembered.
	silence := linkOf(t, first, "search", "静默 1 小时")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(silence), chromedp.WaitVisible(chromedp.ID("name"))))
	name, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("name")))
	require.NoError(t, err)
	require.Equal(t, "张三", name, "the name comes from the cookie")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("message"))))
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("message")))
	require.NoError(t, err)
	require.Contains(t, text, "已静默至")
	silencedAt := time.Now()

	// Reminders: none for the claimed alert nor for the silenced one.
	time.Sleep(2500 * time.Millisecond)
	for _, m := range e.robot.Messages() {
		if m.At.After(claimedAt.Add(500*time.Millisecond)) && strings.Contains(m.Content, "billing") {
			t.Errorf("a message about the claimed alert after the claim: %s", m.Content)
		}
		if m.At.After(silencedAt.Add(500*time.Millisecond)) && strings.Contains(m.Content, "search") {
			t.Errorf("a message about the silenced alert: %s", m.Content)
		}
	}

	// The list shows both alerts and the silence; expire ends it.
	rows := textAt(t, ctx, base+"/", "alerts")
	require.Contains(t, rows, "billing")
	require.Contains(t, rows, "张三")
	rows, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("silences")))
	require.NoError(t, err)
	require.Contains(t, rows, "group=search")
	screenshot(t, ctx, "list.png")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button.expire")), chromedp.WaitVisible(chromedp.ID("nosilences"))))
	require.Eventually(t, func() bool { return !p.parts.silences.Silenced(alertOf(t, p, "search").Key, time.Now()) }, 5*time.Second, 20*time.Millisecond)

	// Secrets and tokens never reach the log.
	for _, m := range e.log.Messages() {
		require.NotContains(t, m.Text, linkSecret)
		require.NotContains(t, m.Text, "/a/")
	}
}

// textAt opens url and returns the text of the element with id.
func textAt(t *testing.T, ctx context.Context, url, id string) string {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID(id))))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	require.NoError(t, err)
	return text
}

func keyOf(t *testing.T, p *WeComSMSMail, group string) string {
	t.Helper()
	obs, ok := p.engine.Observation(lagMetric(group, "critical", 1, 1))
	require.True(t, ok)
	return obs.Key
}

func alertOf(t *testing.T, p *WeComSMSMail, group string) alert.Alert {
	t.Helper()
	a, ok := p.engine.Alert(keyOf(t, p, group))
	require.True(t, ok, group)
	return a
}
