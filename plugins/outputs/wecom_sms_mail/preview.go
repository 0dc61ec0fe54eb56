package wecom_sms_mail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/engine"
)

// Preview shows what an alert would look like, without sending anything:
// it reads line protocol (a breaching series becomes the chart's history),
// treats every alert still firing at the end as due now, and writes for
// each destination exactly the text that would be sent (SMS: the template
// parameters). The email HTML and the chart PNGs go to dir when set. It
// needs Init, not Connect: no network, no state file.
func (p *WeComSMSMail) Preview(r io.Reader, out io.Writer, dir string) error {
	alerts := alert.NewAlerts(alert.Policy{History: alert.History{Window: time.Duration(p.ChartWindow), Max: engine.ChartPoints}})
	dec := lineprotocol.NewDecoder(bufio.NewReader(r))
	var last time.Time
	for line := 1; dec.Next(); line++ {
		m, err := execd.DecodeMetric(dec)
		if err != nil {
			fmt.Fprintf(out, "# skipping line %d: %v\n", line, err)
			continue
		}
		obs, ok := p.engine.Observation(m)
		if !ok {
			continue
		}
		alerts.Observe(obs, m.Time())
		last = m.Time()
	}
	firing := alerts.Snapshot()
	if len(firing) == 0 {
		return errors.New("no alert fires in the metrics: nothing to preview")
	}
	notes := make([]alert.Notification, len(firing))
	for i, a := range firing {
		notes[i] = alert.Notification{Kind: alert.KindFiring, Alert: a, At: last}
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	pt := p.parts
	for i, ch := range pt.channels {
		var batch []alert.Notification
		for _, n := range notes {
			if n.Alert.Level >= ch.MinLevel() && slices.Contains(pt.dests.Route(n.Alert), ch.ID()) {
				batch = append(batch, n)
			}
		}
		fmt.Fprintf(out, "==== %s %s %s: %d alert(s)\n", pt.dests.labels[ch.ID()], ch.Kind(), ch.Destination(), len(batch))
		if len(batch) == 0 {
			continue
		}
		data := p.engine.Builder().Build(batch)
		_ = data.LinkDashboards(pt.dashboard)
		if pt.oncall != nil {
			keys := make([]string, len(batch))
			for k, n := range batch {
				keys[k] = n.Alert.Key
			}
			data.Mentions = p.engine.Mentions(keys, last)
		}
		if png, err := pt.charts.Render(data); err == nil {
			data.Chart = png
		}
		deliveries, err := ch.Prepare(data)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.ID(), err)
		}
		for j, d := range deliveries {
			switch {
			case len(d.Params) > 0:
				fmt.Fprintf(out, "template parameters %q to %s\n", d.Params, strings.Join(d.Phones, ","))
			case d.HTML != "":
				fmt.Fprintf(out, "Subject: %s\n\n%s\n", d.Subject, d.Text)
			default:
				fmt.Fprintln(out, d.Text)
			}
			if dir == "" {
				continue
			}
			base := filepath.Join(dir, fmt.Sprintf("%d-%s-%d", i+1, ch.Kind(), j+1))
			if d.HTML != "" {
				if err := os.WriteFile(base+".html", []byte(d.HTML), 0o644); err != nil {
					return err
				}
			}
			if len(data.Chart) > 0 && j == 0 {
				if err := os.WriteFile(base+".png", data.Chart, 0o644); err != nil {
					return err
				}
			}
		}
	}
	p.previewEscalations(out, firing)
	return nil
}

// previewEscalations prints the steps each alert's escalation would place,
// with their times and whom they reach.
func (p *WeComSMSMail) previewEscalations(out io.Writer, firing []alert.Alert) {
	if p.parts.oncall == nil {
		return
	}
	for _, a := range firing {
		plan := p.engine.Plan(a)
		if len(plan) == 0 {
			continue
		}
		fmt.Fprintf(out, "==== escalation of %s (first firing %s)\n", a.Key, a.StartedAt.In(p.parts.location).Format("2006-01-02 15:04:05 -07:00"))
		for _, st := range plan {
			fmt.Fprintf(out, "step %d at %s (+%s): %s to %s\n", st.Index+1, st.At.In(p.parts.location).Format("15:04:05"),
				st.At.Sub(a.StartedAt), strings.Join(st.Notify, ", "), strings.Join(st.Who, ", "))
		}
	}
}
