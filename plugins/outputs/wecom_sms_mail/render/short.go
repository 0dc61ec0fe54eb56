package render

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

type unit struct {
	size   float64
	suffix string
}

var (
	unitsZH = []unit{{1e8, "亿"}, {1e4, "万"}}
	unitsEN = []unit{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}
)

// formatNumber prints v without exponent, as an integer when it is one.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e18 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// shortNumber renders v in at most maxLen characters where it can: the plain
// number when it fits, else a compact form with one decimal at most (none
// once the integer part has three digits): 185238291 → "1.9亿" or "185M".
// It never cuts digits off a plain number.
func shortNumber(v float64, maxLen int, lang string) string {
	plain := formatNumber(v)
	if maxLen <= 0 || utf8.RuneCountInString(plain) <= maxLen {
		return plain
	}
	units := unitsEN
	if lang == "zh" {
		units = unitsZH
	}
	abs := math.Abs(v)
	for _, u := range units {
		if abs < u.size {
			continue
		}
		scaled := v / u.size
		best := ""
		for decimals := 1; decimals >= 0; decimals-- {
			if decimals == 1 && math.Abs(scaled) >= 100 {
				continue
			}
			s := strconv.FormatFloat(scaled, 'f', decimals, 64)
			s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
			if decimals == 0 {
				s = strconv.FormatFloat(math.Round(scaled), 'f', 0, 64)
			}
			best = s + u.suffix
			if utf8.RuneCountInString(best) <= maxLen {
				return best
			}
		}
		return best
	}
	// Below the smallest unit but too long: a fraction; round it.
	for decimals := 2; decimals >= 0; decimals-- {
		s := strconv.FormatFloat(v, 'f', decimals, 64)
		if utf8.RuneCountInString(s) <= maxLen {
			return s
		}
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

// shortText fits s into maxLen characters: numbers through shortNumber,
// text cut at a character boundary with a trailing "…".
func ShortText(s string, maxLen int, lang string) string {
	if maxLen <= 0 || utf8.RuneCountInString(s) <= maxLen {
		return s
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return shortNumber(v, maxLen, lang)
	}
	if maxLen == 1 {
		return "…"
	}
	runes := []rune(s)
	return string(runes[:maxLen-1]) + "…"
}
