package route

import (
	"encoding/json"
	"strings"
)

// MarshalJSON and UnmarshalJSON keep matchers as {"tag","glob"}.
func (m Matcher) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Tag  string `json:"tag"`
		Glob string `json:"glob"`
	}{m.Tag, m.Glob})
}

func (m *Matcher) UnmarshalJSON(b []byte) error {
	var raw struct {
		Tag  string `json:"tag"`
		Glob string `json:"glob"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	parsed, err := NewMatcher(raw.Tag, raw.Glob)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// Literal is a glob that matches s and nothing else. Telegraf compares a
// pattern without * ? [ literally; one with them is a glob, whose special
// characters are escaped.
func Literal(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]{}\,-!`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
