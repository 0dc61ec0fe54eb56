package render

import (
	"fmt"
	"strings"
	"unicode"
)

// Names from the outside world (consumer groups may contain any character,
// instance names are free text) must show as literal text in every channel:
// a group called "pay</font>\n### 已恢复 @all" must neither close a tag, nor
// start a line, nor mention anyone. Each channel renders from a copy of the
// template data whose outside values went through its escaper.

// EscapeText makes control characters and line separators visible as Go
// escapes (\n, \x07, \u2028), so a value can never start a new line of a
// text message, a mail header or a log line.
func EscapeText(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !isControl(r) {
			b.WriteRune(r)
			continue
		}
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085'
}

// EscapeMarkdown makes s literal text in WeCom markdown, on one line: HTML
// tags (<font>, <@mention>) become entities; the characters that start
// emphasis, code, links and headings get a backslash. An underscore inside
// a word (order_events) starts nothing and stays as it is, so common names
// read cleanly.
func EscapeMarkdown(s string) string {
	s = EscapeText(s)
	if !strings.ContainsAny(s, "&<>\\*_`[]~#") {
		return s
	}
	runes := []rune(s)
	var b strings.Builder
	for i, r := range runes {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '*', '`', '[', ']', '~', '#':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '_':
			if i > 0 && i < len(runes)-1 && isWordRune(runes[i-1]) && isWordRune(runes[i+1]) {
				b.WriteRune(r)
			} else {
				b.WriteString(`\_`)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// StripControl removes control characters: SMS variables are short and the
// gateway rejects or mangles them.
func StripControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

// escaped returns a copy of d whose values from the outside world (tag
// values, names and what is built from them) went through esc. Our own
// words and numbers are left alone.
func (d *TemplateData) Escaped(esc func(string) string) *TemplateData {
	c := *d
	c.Alerts = make([]AlertView, len(d.Alerts))
	for i, a := range d.Alerts {
		c.Alerts[i] = a.Escaped(esc)
	}
	c.First = d.First.Escaped(esc)
	return &c
}

func (v AlertView) Escaped(esc func(string) string) AlertView {
	v.Name = esc(v.Name)
	tags := make(map[string]string, len(v.Tags))
	for k, val := range v.Tags {
		tags[esc(k)] = esc(val)
	}
	v.Tags = tags
	v.Instance = esc(v.Instance)
	v.InstanceName = esc(v.InstanceName)
	v.Group = esc(v.Group)
	v.Topic = esc(v.Topic)
	v.Subject = esc(v.Subject)
	v.ClaimedBy = esc(v.ClaimedBy) // typed into a form by whoever opened a link
	return v
}
