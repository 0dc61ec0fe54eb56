package alert

import "strings"

// An alert's key is its identity: the measurement and its tags, as an
// escaped series key ("name,k=v,k2=v2", tags sorted).

// WriteEscaped writes s to b escaped for a key.
func WriteEscaped(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, `\,=`) {
		b.WriteString(s)
		return
	}
	keyEscaper.WriteString(b, s)
}

var keyEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`)

// Tag is one tag of an alert's identity.
type Tag struct {
	Key, Value string
}

// ParseKey splits a key.
func ParseKey(key string) (name string, tags []Tag) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && i+1 < len(key):
			i++
			cur.WriteByte(key[i])
		case c == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		case c == '=' && len(parts) > 0:
			cur.WriteByte(0) // separator, unambiguous after unescaping
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	name = parts[0]
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "\x00")
		tags = append(tags, Tag{Key: k, Value: v})
	}
	return name, tags
}

// KeyTags returns an alert key's tags as a map, as routes and silences
// match them.
func KeyTags(key string) map[string]string {
	_, tags := ParseKey(key)
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
