// Command ckafka_lag_demo is `make demo`: the whole pipeline on an embedded
// simulator. It starts the CKafka API fake with producers and consumers at
// scripted rates (a consumer slows down, dies, comes back faster than the
// producers), local WeCom, SMS, SMTP and InfluxDB sinks that print what
// they receive, and the real Telegraf (./bin/telegraf) with the real
// sample.conf pointed at them.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/sim"
	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// step changes the simulated cluster at a point of the scenario. Rates are
// messages per second per partition (each topic has three).
type step struct {
	at    time.Duration
	note  string
	apply func(s *sim.Sim)
}

// The demo's thresholds: sample.conf's, with the seconds and stall judges
// on.
var constants = map[string]string{"warning_lag_seconds": "15", "critical_lag_seconds": "0", "stall_level": `"critical"`}

// perTopic narrates a per-partition rate of SetFlow in the table's unit:
// messages a second over the whole topic.
func perTopic(perPartition float64) string {
	return fmt.Sprintf("%.0f/s", perPartition*sim.Partitions)
}

var scenario = []step{
	{0, "steady: every consumer keeps up with its producers", func(s *sim.Sim) {
		s.SetLag("billing", "payments", 30)
		s.SetFlow("billing", "payments", 10, 10)
		s.SetLag("search", "queries", 40)
		s.SetFlow("search", "queries", 20, 20)
		s.SetLag("etl", "events", 300)
		s.SetFlow("etl", "events", 50, 50)
	}},
	{10 * time.Second, fmt.Sprintf("billing's consumer slows down: %s against %s produced; the backlog stays small, its age grows", perTopic(4), perTopic(10)), func(s *sim.Sim) {
		s.SetFlow("billing", "payments", 10, 4)
	}},
	{50 * time.Second, "billing's consumers die: the group is Empty, nothing is committed", func(s *sim.Sim) {
		s.SetGroupState("billing", "Empty", 0)
		s.SetFlow("billing", "payments", 10, 0)
	}},
	{85 * time.Second, fmt.Sprintf("billing's consumers come back faster than the producers: %s against %s", perTopic(20), perTopic(10)), func(s *sim.Sim) {
		s.SetGroupState("billing", "Stable", 3)
		s.SetFlow("billing", "payments", 10, 20)
	}},
}

func main() {
	root := flag.String("root", ".", "repository root (bin/, etc/, sample.conf)")
	duration := flag.Duration("duration", 160*time.Second, "how long the scenario runs")
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
	conf, err := sim.WriteConfig(root, dir, constants)
	if err != nil {
		return err
	}
	pageURL, secret, err := writePageConfig(root, dir, &settings)
	if err != nil {
		return err
	}
	scenario[0].apply(s)

	logPath := filepath.Join(dir, "telegraf.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// sample.conf puts environment variables in strings only, so it works
	// with the strict handling that becomes Telegraf's default in 1.38.
	cmd := exec.Command(telegraf, "--strict-env-handling", "--config", conf)
	cmd.Env = append(s.Env(root, settings), "ALERT_LINK_SECRET="+secret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = logFile

	fmt.Printf("CKafka lag demo: real Telegraf %s with sample.conf, collecting every %s, for %s.\n", telegrafVersion(telegraf), settings.Interval, duration)
	fmt.Printf("Thresholds: warning > 1000 messages or > 15s behind, critical > 2000; a stalled consumer is critical;\n")
	fmt.Printf("raised after 2 collections; reminders every %s.\n", settings.RepeatInterval)
	fmt.Printf("Telegraf log: %s\n", logPath)
	fmt.Printf("Alert page: %s (the claim / silence / view links in the messages open it)\n\n", pageURL)
	if err := cmd.Start(); err != nil {
		return err
	}
	start := time.Now()
	p := &printer{start: start, rows: map[string]testkit.Metric{}}
	go p.telegrafLog(stderr, logFile)

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
				p.say("scenario", scenario[next].note)
				scenario[next].apply(s)
				next++
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

func telegrafVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Telegraf "))
}

type printer struct {
	start time.Time
	rows  map[string]testkit.Metric // this collection's, until its health arrives
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

// lagTable prints a collection's rows once its ckafka_lag_gather arrived:
// Telegraf may flush one collection in two batches.
func (p *printer) lagTable(batch []testkit.Metric) {
	var gather *testkit.Metric
	for i, m := range batch {
		switch m.Name {
		case "ckafka_lag":
			p.rows[m.Tags["group"]+"/"+m.Tags["topic"]] = m
		case "ckafka_lag_gather":
			gather = &batch[i]
		}
	}
	if gather == nil || len(p.rows) == 0 {
		return
	}
	rows := make([]testkit.Metric, 0, len(p.rows))
	for _, m := range p.rows {
		rows = append(rows, m)
	}
	clear(p.rows)
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Tags["group"]+"/"+rows[i].Tags["topic"] < rows[j].Tags["group"]+"/"+rows[j].Tags["topic"]
	})
	health := ""
	if gather != nil {
		health = fmt.Sprintf(" (%v API requests, %v errors, %v ms)", gather.Fields["api_requests"], gather.Fields["api_errors"], gather.Fields["duration_ms"])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s collection%s\n", p.stamp(), health)
	fmt.Fprintf(&b, "        %-8s %-9s %6s %8s %8s %8s  %-9s %s\n", "GROUP", "TOPIC", "LAG", "BEHIND", "PRODUCE", "CONSUME", "LEVEL", "TREND")
	for _, m := range rows {
		fmt.Fprintf(&b, "        %-8s %-9s %6v %8s %8s %8s  %-9v %s\n", m.Tags["group"], m.Tags["topic"], m.Fields["lag"],
			seconds(m.Fields["lag_seconds"]), rate(m.Fields["produce_rate"]), rate(m.Fields["consume_rate"]), m.Fields["alert_level"], trend(m))
	}
	fmt.Print(b.String())
}

func seconds(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	return time.Duration(f * float64(time.Second)).Round(time.Second).String()
}

func rate(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", f)
}

// trend says where the backlog is going, as the alerts do.
func trend(m testkit.Metric) string {
	var notes []string
	if m.Fields["group_state"] == "Empty" {
		notes = append(notes, "no consumer online")
	}
	produce, hasP := m.Fields["produce_rate"].(float64)
	consume, hasC := m.Fields["consume_rate"].(float64)
	drain, hasDrain := m.Fields["drain_seconds"].(float64)
	switch {
	case m.Fields["stalled"] == true:
		notes = append(notes, "stalled")
	case hasDrain:
		notes = append(notes, "clears in ~"+seconds(drain))
	case hasP && hasC && consume < produce:
		notes = append(notes, "growing")
	case hasP && hasC:
		notes = append(notes, "steady")
	}
	return strings.Join(notes, ", ")
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "        " + l
	}
	return strings.Join(lines, "\n")
}

// writePageConfig copies etc/ into dir with the output's page turned on
// (a free port on 127.0.0.1), points settings at it, and returns the
// page's address and a fresh link secret.
func writePageConfig(root, dir string, settings *sim.Settings) (pageURL, secret string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	confDir := filepath.Join(dir, "etc")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		return "", "", err
	}
	for _, name := range []string{"ckafka_lag.conf", "wecom_sms_mail.conf"} {
		data, err := os.ReadFile(filepath.Join(root, "etc", name))
		if err != nil {
			return "", "", err
		}
		if name == "wecom_sms_mail.conf" {
			data = fmt.Appendf(data, "\n  [outputs.wecom_sms_mail.web]\n    listen = %q\n    external_url = %q\n    link_secret = \"${ALERT_LINK_SECRET}\"\n",
				addr, "http://"+addr)
		}
		if err := os.WriteFile(filepath.Join(confDir, name), data, 0o600); err != nil {
			return "", "", err
		}
	}
	settings.ConfDir = confDir
	return "http://" + addr + "/", hex.EncodeToString(raw), nil
}
