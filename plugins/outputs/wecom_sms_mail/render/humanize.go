package render

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// humanDuration renders d with its two largest units: "4m12s", "1h2m",
// "3d4h" in English, "4分12秒", "1小时2分", "3天4小时" in Chinese (a whole
// number of minutes reads "6分钟"). Under a second it is "0s" / "0秒".
func humanDuration(d time.Duration, lang string) string {
	type unit struct {
		size   time.Duration
		en, zh string
	}
	units := []unit{{24 * time.Hour, "d", "天"}, {time.Hour, "h", "小时"}, {time.Minute, "m", "分"}, {time.Second, "s", "秒"}}
	d = d.Round(time.Second)
	if d < time.Second {
		if lang == "zh" {
			return "0秒"
		}
		return "0s"
	}
	var b strings.Builder
	parts := 0
	last := ""
	for _, u := range units {
		if d < u.size && parts == 0 {
			continue
		}
		n := d / u.size
		d -= n * u.size
		parts++
		if n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			if lang == "zh" {
				b.WriteString(u.zh)
				last = u.zh
			} else {
				b.WriteString(u.en)
			}
		}
		if parts == 2 {
			break
		}
	}
	out := b.String()
	if lang == "zh" && last == "分" && !strings.ContainsAny(out, "天小时") {
		out += "钟" // "6分钟", not "6分"
	}
	return out
}

// humanSeconds is humanDuration of a float number of seconds.
func humanSeconds(s float64, lang string) string {
	if math.IsNaN(s) || s < 0 {
		s = 0
	}
	return humanDuration(time.Duration(min(s, float64(math.MaxInt64/int64(time.Second)))*float64(time.Second)), lang)
}

// humanRate renders messages per second: "80/s", "1.2k/s", "3.4M/s"; in
// Chinese "1.2万/s", "3.4亿/s". Below 10, one decimal ("0.5/s").
func humanRate(v float64, lang string) string {
	return humanCount(v, lang) + "/s"
}

// humanCount renders a count compactly with k/M (万/亿) suffixes.
func humanCount(v float64, lang string) string {
	units := []unit{{1e9, "B"}, {1e6, "M"}, {1e3, "k"}}
	if lang == "zh" {
		units = unitsZH
	}
	for _, u := range units {
		if math.Abs(v) >= u.size {
			return trimFloat(v/u.size, 1) + u.suffix
		}
	}
	if math.Abs(v) < 10 && v != math.Trunc(v) {
		return trimFloat(v, 1)
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

func trimFloat(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
