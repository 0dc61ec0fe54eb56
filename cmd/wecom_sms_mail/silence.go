package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/route"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/silence"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// silenceCommand runs -silence add|list|expire. It needs nothing from the
// config but where the silence file is: no network, no channel.
func silenceCommand(p *wecom_sms_mail.WeComSMSMail, action string, args []string, matchers []string, d time.Duration,
	author, comment string, log telegraf.Logger) int {
	path, err := p.SilencePath()
	if err != nil {
		log.Error(err)
		return 1
	}
	now := time.Now()
	switch action {
	case "add":
		ms, err := silence.ParseMatcherArgs(matchers)
		if err != nil {
			log.Error(err)
			return 2
		}
		if d <= 0 {
			log.Error("-silence add needs -for DURATION (e.g. -for 2h)")
			return 2
		}
		id, err := silence.Add(path, silence.Silence{Matchers: ms, StartsAt: now, EndsAt: now.Add(d), CreatedBy: author, Comment: comment}, now)
		if err != nil {
			log.Errorf("Adding the silence: %v", err)
			return 1
		}
		fmt.Println(id) // alone on stdout, for scripts
		log.Infof("Silenced %s until %s", matcherText(ms), now.Add(d).Format(time.RFC3339))
		return 0
	case "list":
		ss, err := silence.Load(path, now)
		if err != nil {
			log.Error(err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tMATCHERS\tSTARTS\tENDS\tAUTHOR\tCOMMENT\tSTATE")
		for _, s := range ss {
			state := "active"
			switch {
			case !now.Before(s.EndsAt):
				state = "expired"
			case now.Before(s.StartsAt):
				state = "pending"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%q\t%s\n", s.ID, matcherText(s.Matchers), s.StartsAt.Format(time.RFC3339),
				s.EndsAt.Format(time.RFC3339), s.CreatedBy, s.Comment, state)
		}
		if err := w.Flush(); err != nil {
			return 1
		}
		return 0
	case "expire":
		if len(args) != 1 {
			log.Error("-silence expire needs the silence's ID")
			return 2
		}
		if err := silence.Expire(path, args[0], now); err != nil {
			log.Error(err)
			return 1
		}
		log.Infof("Expired silence %s", args[0])
		return 0
	}
	log.Errorf("-silence %q: want add, list or expire", action)
	return 2
}

func matcherText(ms []route.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Tag + "=" + m.Glob
	}
	return strings.Join(parts, ",")
}
