// Command ckafka_lag_demo is `make demo`: the whole pipeline on an embedded
// simulator. It starts the CKafka API fake with a scripted scenario (lag
// rises past warning, then critical, holds, recovers), local WeCom, SMS,
// SMTP and InfluxDB sinks that print what they receive, and the real
// Telegraf (./bin/telegraf) with the real sample.conf pointed at them.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// step is the lag of each group's topic from a point in the scenario on.
// A spike lasts exactly one collection: its lags are served once, then the
// previous ones come back.
type step struct {
	at    time.Duration
	note  string
	lags  map[string]int64 // "group/topic" → lag
	spike bool
}

var scenario = []step{
	{0, "steady: all groups keep up", map[string]int64{"billing/payments": 120, "search/queries": 40, "etl/events": 300}, false},
	{15 * time.Second, "billing/payments falls behind: lag 1500 > warning 1000", map[string]int64{"billing/payments": 1500}, false},
	{35 * time.Second, "billing/payments worsens: lag 2800 > critical 2000", map[string]int64{"billing/payments": 2800}, false},
	{50 * time.Second, "etl/events spikes to 5000 for one collection (for_intervals 2: no alert)", map[string]int64{"etl/events": 5000}, true},
	{80 * time.Second, "billing/payments catches up: lag 90", map[string]int64{"billing/payments": 90}, false},
}

func main() {
	root := flag.String("root", ".", "repository root (bin/, etc/, sample.conf)")
	duration := flag.Duration("duration", 100*time.Second, "how long the scenario runs")
	flag.Parse()
	if err := run(*root, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(root string, duration time.Duration) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	telegraf := filepath.Join(root, "bin", "telegraf")
	for _, bin := range []string{telegraf, filepath.Join(root, "bin", "ckafka_lag"), filepath.Join(root, "bin", "wecom_sms_mail")} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%s is missing: run `make build telegraf` first", bin)
		}
	}
	dir, err := os.MkdirTemp("", "ckafka-lag-demo-")
	if err != nil {
		return err
	}
	s, err := sim.Start(dir)
	if err != nil {
		return err
	}
	defer s.Close()

	lang := os.Getenv("ALERT_LANGUAGE")
	if lang == "" {
		lang = "zh"
	}
	settings := sim.Settings{Interval: "5s", FlushInterval: "1s", GroupWait: "2s", RepeatInterval: "30s",
		StaleAfter: "10m", RestartDelay: "2s", Language: lang}
	apply(s, scenario[0])

	logPath := filepath.Join(dir, "telegraf.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// sample.conf puts environment variables in strings only, so it works
	// with the strict handling that becomes Telegraf's default in 1.38.
	cmd := exec.Command(telegraf, "--strict-env-handling", "--config", filepath.Join(root, "sample.conf"))
	cmd.Env = s.Env(root, settings)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = logFile

	fmt.Printf("CKafka lag demo: real Telegraf %s with sample.conf, collecting every %s, for %s.\n", telegrafVersion(telegraf), settings.Interval, duration)
	fmt.Printf("Thresholds: warning > 1000, critical > 2000, raised after 2 collections; reminders every %s.\n", settings.RepeatInterval)
	fmt.Printf("Telegraf log: %s\n\n", logPath)
	if err := cmd.Start(); err != nil {
		return err
	}
	start := time.Now()
	p := &printer{start: start}
	go p.telegrafLog(stderr, logFile)

	// A spike is undone right after the collection that saw it.
	spikeServed := make(chan string, 4)
	var spikeMu sync.Mutex
	spikeGroup := ""
	s.CKafka.OnAnswer(func(action string, body []byte, _ time.Time) {
		spikeMu.Lock()
		defer spikeMu.Unlock()
		if spikeGroup != "" && action == "DescribeGroupOffsets" && bytes.Contains(body, []byte(`"Group":"`+spikeGroup+`"`)) {
			spikeServed <- spikeGroup
			spikeGroup = ""
		}
	})
	lastLags := map[string]int64{}
	for k, v := range scenario[0].lags {
		lastLags[k] = v
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	next := 1
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(duration)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
			if next < len(scenario) && time.Since(start) >= scenario[next].at {
				st := scenario[next]
				p.say("scenario", st.note)
				if st.spike {
					spikeMu.Lock()
					for key := range st.lags {
						spikeGroup, _, _ = strings.Cut(key, "/")
					}
					spikeMu.Unlock()
				}
				apply(s, st)
				if !st.spike {
					for k, v := range st.lags {
						lastLags[k] = v
					}
				}
				next++
			}
		case group := <-spikeServed:
			for key, lag := range lastLags {
				if strings.HasPrefix(key, group+"/") {
					g, topic, _ := strings.Cut(key, "/")
					s.SetLag(g, topic, lag)
					p.say("scenario", fmt.Sprintf("%s back to %d after one collection", key, lag))
				}
			}
		case batch := <-s.Influx.Batches():
			p.lagTable(batch)
		case m := <-s.Robot.Received():
			p.say("WeCom robot", "\n"+indent(m.Content))
		case m := <-s.SMS.Received():
			p.say("SMS → "+m.Phone, fmt.Sprintf("template %s, variables %q", m.TemplateID, m.Params))
		case m := <-s.SMTP.Received():
			p.say("Email → "+strings.Join(m.To, ","), fmt.Sprintf("subject %q\n%s", m.Subject, indent(m.Text)))
		}
	}

	p.say("demo", "stopping Telegraf")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	fmt.Printf("\nDelivered: %d WeCom message(s), %d SMS, %d email(s); %d points written to the InfluxDB sink.\n",
		len(s.Robot.Messages()), len(s.SMS.Messages()), len(s.SMTP.Messages()), s.Influx.Points())
	fmt.Printf("Telegraf log: %s (state files in %s)\n", logPath, dir)
	return nil
}

func apply(s *sim.Sim, st step) {
	for key, lag := range st.lags {
		group, topic, _ := strings.Cut(key, "/")
		s.SetLag(group, topic, lag)
	}
}

func telegrafVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Telegraf "))
}

type printer struct {
	start time.Time
}

func (p *printer) stamp() string {
	d := time.Since(p.start).Round(time.Second)
	return fmt.Sprintf("[%02d:%02d]", int(d.Minutes()), int(d.Seconds())%60)
}

func (p *printer) say(who, what string) {
	sep := " "
	if strings.HasPrefix(what, "\n") {
		sep = ""
	}
	fmt.Printf("%s %s:%s%s\n", p.stamp(), who, sep, what)
}

// telegrafLog copies Telegraf's log to the file and shows its warnings and
// errors.
func (p *printer) telegrafLog(r io.Reader, file io.Writer) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(file, line)
		if strings.Contains(line, " E! ") || strings.Contains(line, " W! ") {
			p.say("telegraf", line)
		}
	}
}

func (p *printer) lagTable(batch []testkit.Metric) {
	var rows []testkit.Metric
	var gather *testkit.Metric
	for i, m := range batch {
		switch m.Name {
		case "ckafka_lag":
			rows = append(rows, m)
		case "ckafka_lag_gather":
			gather = &batch[i]
		}
	}
	if len(rows) == 0 {
		return
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Tags["group"]+"/"+rows[i].Tags["topic"] < rows[j].Tags["group"]+"/"+rows[j].Tags["topic"]
	})
	health := ""
	if gather != nil {
		health = fmt.Sprintf(" (%v API requests, %v errors, %v ms)", gather.Fields["api_requests"], gather.Fields["api_errors"], gather.Fields["duration_ms"])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s collection%s\n", p.stamp(), health)
	fmt.Fprintf(&b, "        %-10s %-10s %8s  %s\n", "GROUP", "TOPIC", "LAG", "LEVEL")
	for _, m := range rows {
		fmt.Fprintf(&b, "        %-10s %-10s %8v  %v\n", m.Tags["group"], m.Tags["topic"], m.Fields["lag"], m.Fields["alert_level"])
	}
	fmt.Print(b.String())
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "        " + l
	}
	return strings.Join(lines, "\n")
}
