package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/plugins/outputs/wecom_sms_mail"
)

// destinationTables are the output's destination tables: its Config's
// pointer-to-struct fields whose type lives in a notify/ package (the
// channels and Alertmanager). A new channel package is found here without
// anyone remembering to list it.
func destinationTables(t *testing.T) []string {
	t.Helper()
	typ := reflect.TypeOf(wecom_sms_mail.Config{})
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
			continue
		}
		if strings.Contains(f.Type.Elem().PkgPath(), "/wecom_sms_mail/notify/") {
			out = append(out, tag)
		}
	}
	require.NotEmpty(t, out)
	sort.Strings(out)
	return out
}

// names are how each README calls a destination table in its diagram.
var names = map[string]map[string]string{
	"README.md": {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "sms": "SMS", "voice": "phone call", "email": "email",
		"webhook": "webhook", "alertmanager": "Alertmanager"},
	"README.zh-CN.md": {"wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书", "sms": "短信", "voice": "电话", "email": "邮件",
		"webhook": "Webhook", "alertmanager": "Alertmanager"},
}

var diagramDestinations = regexp.MustCompile(`wecom_sms_mail ─► (.+)`)

// TestDiagramShowsEveryDestination: the README diagrams name exactly the
// destinations the output registers, so the picture cannot drift again.
func TestDiagramShowsEveryDestination(t *testing.T) {
	tables := destinationTables(t)
	for readme, name := range names {
		raw, err := os.ReadFile(filepath.Join("..", "..", readme))
		require.NoError(t, err)
		m := diagramDestinations.FindStringSubmatch(string(raw))
		require.NotNil(t, m, "%s: no diagram line `wecom_sms_mail ─► …`", readme)
		var shown []string
		for _, d := range strings.Split(m[1], "·") {
			shown = append(shown, strings.TrimSpace(d))
		}
		var want []string
		for _, table := range tables {
			n, ok := name[table]
			require.True(t, ok, "%s: the output registers [outputs.wecom_sms_mail.%s]; name it in this test and in the diagram", readme, table)
			want = append(want, n)
		}
		sort.Strings(shown)
		sort.Strings(want)
		require.Equal(t, want, shown, "%s: the diagram's destinations and the output's registered channels differ", readme)
		for _, n := range want {
			require.Contains(t, pieceRow(t, string(raw)), n, "%s: the output's row of the pieces table does not name %s", readme, n)
		}
	}
}

// pieceRow is the output's row of the pieces table.
func pieceRow(t *testing.T, readme string) string {
	t.Helper()
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| [`plugins/outputs/wecom_sms_mail`]") {
			return line
		}
	}
	t.Fatal("no pieces-table row for plugins/outputs/wecom_sms_mail")
	return ""
}

// sectionNames pairs the English README's sections with the Chinese ones.
var sectionNames = map[string]string{
	"Why this and not …":               "为什么选它",
	"The pieces":                       "各部分",
	"Two commands":                     "两条命令",
	"Install into a fleet":             "部署",
	"When the collector fails":         "采集失败时",
	"Two hosts":                        "两台主机",
	"Acting on an alert":               "在聊天中处理告警",
	"On call":                          "值班与升级",
	"The threshold script's constants": "阈值脚本的常量",
	"Upgrade notes":                    "升级说明",
	"Configuration keys":               "配置键一览",
	"Benchmarks":                       "性能测试",
	"Fault injection":                  "故障注入：make chaos",
	"Layout":                           "代码结构",
}

func sections(t *testing.T, readme string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", readme))
	require.NoError(t, err)
	var out []string
	inCode := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(line, "## ") {
			out = append(out, strings.TrimSpace(line[3:]))
		}
	}
	return out
}

// TestChineseReadmeHasTheSameSections: README.zh-CN.md has a section for
// each of README.md's, in the same order.
func TestChineseReadmeHasTheSameSections(t *testing.T) {
	en, zh := sections(t, "README.md"), sections(t, "README.zh-CN.md")
	var want []string
	for _, s := range en {
		z, ok := sectionNames[s]
		require.True(t, ok, "README.md has a new section %q: add it to README.zh-CN.md and to sectionNames", s)
		want = append(want, z)
	}
	require.Equal(t, want, zh, "README.zh-CN.md's sections differ from README.md's")
	require.False(t, slices.Contains(en, ""), "an empty heading")
}
