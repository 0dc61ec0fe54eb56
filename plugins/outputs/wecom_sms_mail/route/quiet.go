package route

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail/alert"
)

// Quiet is quiet_hours: windows of local time during which notifications
// below MinLevel are held, not sent.
type Quiet struct {
	Windows  []Window
	MinLevel alert.Level
	Loc      *time.Location
}

// Window is a span of minutes since local midnight; End before Start
// crosses midnight ("22:00-08:00").
type Window struct {
	Start, End int
}

// ParseQuiet reads quiet_hours, quiet_hours_min_level and timezone; no
// windows means no quiet hours (nil).
func ParseQuiet(windows []string, minLevel, timezone string) (*Quiet, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	q := &Quiet{MinLevel: alert.LevelCritical, Loc: time.Local}
	if minLevel != "" {
		l, err := alert.ParseMinLevel("quiet_hours_min_level", minLevel)
		if err != nil {
			return nil, err
		}
		q.MinLevel = l
	}
	if timezone != "" && timezone != "Local" {
		loc, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone: %q: %w", timezone, err)
		}
		q.Loc = loc
	}
	for i, w := range windows {
		win, err := parseWindow(w)
		if err != nil {
			return nil, fmt.Errorf("quiet_hours[%d]: %w", i, err)
		}
		q.Windows = append(q.Windows, win)
	}
	return q, nil
}

func parseWindow(s string) (Window, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	start, err := parseClock(from, false)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	end, err := parseClock(to, true)
	if err != nil {
		return Window{}, fmt.Errorf("%q: %w", s, err)
	}
	if start == end {
		return Window{}, fmt.Errorf("%q is empty: use 00:00-24:00 for all day", s)
	}
	return Window{Start: start, End: end}, nil
}

// parseClock reads HH:MM as minutes since midnight; 24:00 only as an end.
func parseClock(s string, end bool) (int, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	switch {
	case !ok || err1 != nil || err2 != nil || len(mm) != 2 || m < 0 || m > 59 || h < 0:
		return 0, fmt.Errorf("%q is not HH:MM", s)
	case h == 24 && m == 0 && end:
		return 24 * 60, nil
	case h > 23:
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// Active reports whether now falls in a window.
func (q *Quiet) Active(now time.Time) bool {
	if q == nil {
		return false
	}
	local := now.In(q.Loc)
	minute := local.Hour()*60 + local.Minute()
	for _, w := range q.Windows {
		if w.Start < w.End {
			if minute >= w.Start && minute < w.End {
				return true
			}
		} else if minute >= w.Start || minute < w.End {
			return true
		}
	}
	return false
}

// Holds reports whether a notification at level is held at now.
func (q *Quiet) Holds(level alert.Level, now time.Time) bool {
	return q != nil && level < q.MinLevel && q.Active(now)
}
