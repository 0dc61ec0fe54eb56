package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail"
	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/oncall"
)

// oncallCommand runs -oncall (who is on call now, per roster) and
// -oncall override add|list|expire. Like -silence it needs nothing from
// the config but the rosters and where the override file is.
func oncallCommand(p *wecom_sms_mail.WeComSMSMail, args []string, author string, out io.Writer, log telegraf.Logger) int {
	rosters, err := p.Rosters()
	if err != nil {
		log.Error(err)
		return 1
	}
	now := time.Now()
	if len(args) == 0 {
		if len(rosters) == 0 {
			log.Error("no [[outputs.wecom_sms_mail.oncall]] roster is configured")
			return 1
		}
		overrides := loadOverrides(p, now, log)
		for i, r := range rosters {
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprint(out, oncall.Describe(r, r.At(now, overrides), now))
		}
		return 0
	}
	if args[0] != "override" || len(args) < 2 {
		log.Errorf("-oncall takes no argument, or: override add|list|expire (got %q)", args)
		return 2
	}
	path, err := p.OverridePath()
	if err != nil {
		log.Error(err)
		return 1
	}
	switch action, rest := args[1], args[2:]; action {
	case "add":
		fs := flag.NewFlagSet("-oncall override add", flag.ContinueOnError)
		rosterName := fs.String("roster", "", "the roster's name")
		who := fs.String("who", "", "who is on call (a name on the roster)")
		until := fs.String("until", "", "until when (RFC 3339, e.g. 2026-12-08T09:00:00+08:00)")
		from := fs.String("from", "", "from when (RFC 3339; default now)")
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		var roster *oncall.Roster
		for i := range rosters {
			if rosters[i].Name == *rosterName {
				roster = &rosters[i]
			}
		}
		switch {
		case roster == nil:
			log.Errorf("-roster: no [[outputs.wecom_sms_mail.oncall]] is named %q", *rosterName)
			return 2
		case roster.Index(*who) < 0:
			log.Errorf("-who: %q is not on roster %q", *who, *rosterName)
			return 2
		}
		end, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			log.Errorf("-until: %q is not an RFC 3339 time (e.g. 2026-12-08T09:00:00+08:00)", *until)
			return 2
		}
		start := now
		if *from != "" {
			if start, err = time.Parse(time.RFC3339, *from); err != nil {
				log.Errorf("-from: %q is not an RFC 3339 time", *from)
				return 2
			}
		}
		if !end.After(start) || !end.After(now) {
			log.Errorf("-until: %s is not after the override's start", end.Format(time.RFC3339))
			return 2
		}
		id, err := oncall.AddOverride(path, oncall.Override{Roster: *rosterName, Who: *who, Start: start, Until: end,
			CreatedBy: author, Created: now}, now)
		if err != nil {
			log.Errorf("Adding the override: %v", err)
			return 1
		}
		fmt.Fprintln(out, id) // alone on stdout, for scripts
		log.Infof("%s is on call for %s from %s until %s", *who, *rosterName, start.Format(time.RFC3339), end.Format(time.RFC3339))
		return 0
	case "list":
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tROSTER\tWHO\tFROM\tUNTIL\tAUTHOR\tSTATE")
		for _, o := range loadOverrides(p, now, log) {
			state := "active"
			switch {
			case !o.Active(now) && now.Before(o.Start):
				state = "pending"
			case !o.Active(now):
				state = "expired"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Roster, o.Who, o.Start.Format(time.RFC3339),
				o.Until.Format(time.RFC3339), o.CreatedBy, state)
		}
		if err := w.Flush(); err != nil {
			return 1
		}
		return 0
	case "expire":
		if len(rest) != 1 {
			log.Error("-oncall override expire needs the override's ID")
			return 2
		}
		if err := oncall.ExpireOverride(path, rest[0], now); err != nil {
			log.Error(err)
			return 1
		}
		log.Infof("Override %s expired", rest[0])
		return 0
	}
	log.Errorf("-oncall override: %q is not add, list or expire", args[1])
	return 2
}

func loadOverrides(p *wecom_sms_mail.WeComSMSMail, now time.Time, log telegraf.Logger) []oncall.Override {
	path, err := p.OverridePath()
	if err != nil {
		return nil
	}
	list, err := oncall.LoadOverrides(path, now)
	if err != nil {
		log.Error(err)
	}
	return list
}
