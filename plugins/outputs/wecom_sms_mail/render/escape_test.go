package render

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEscapers(t *testing.T) {
	tests := []struct {
		name string
		esc  func(string) string
		in   string
		want string
	}{
		{"text: newline visible", EscapeText, "a\nb\r\tc", `a\nb\r\tc`},
		{"text: other controls", EscapeText, "a\x07b\u2028c\u0085", `a\x07b\u2028c\x85`},
		{"text: plain untouched", EscapeText, "billing-etl_v2", "billing-etl_v2"},
		{"markdown: tags and mentions", EscapeMarkdown, "<font>x</font> <@all>", "&lt;font&gt;x&lt;/font&gt; &lt;@all&gt;"},
		{"markdown: emphasis, code, links, headings", EscapeMarkdown, "*b* `c` [l](u) ~s~ #h", "\\*b\\* \\`c\\` \\[l\\](u) \\~s\\~ \\#h"},
		{"markdown: underscore inside a word stays", EscapeMarkdown, "order_events_v2", "order_events_v2"},
		{"markdown: underscore at a word edge", EscapeMarkdown, "_x_ a_", "\\_x\\_ a\\_"},
		{"markdown: newline visible, backslash kept", EscapeMarkdown, "a\nb\\", "a\\\\nb\\\\"},
		{"markdown: entities", EscapeMarkdown, "a&b", "a&amp;b"},
		{"sms: controls removed", StripControl, "pay\n##\x07 x\u2028", "pay## x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.esc(tt.in))
		})
	}
}
