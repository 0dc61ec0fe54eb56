// Package docs checks that the documentation keeps up with the code.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var keyLine = regexp.MustCompile(`^\s*#?\s*(?:#\s*)?([a-z_][a-z0-9_]*)\s*=`)

// sampleKeys are the config keys of a plugin's embedded sample.conf.
func sampleKeys(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var keys []string
	for _, line := range strings.Split(string(raw), "\n") {
		if m := keyLine.FindStringSubmatch(line); m != nil {
			keys = append(keys, m[1])
		}
	}
	require.NotEmpty(t, keys)
	return keys
}

// TestReadmesMentionEveryKey: both READMEs and both plugin READMEs name
// every key of the plugins' sample.conf files.
func TestReadmesMentionEveryKey(t *testing.T) {
	root := filepath.Join("..", "..")
	var keys []string
	for _, p := range []string{"plugins/inputs/ckafka_lag/sample.conf", "plugins/outputs/wecom_sms_mail/sample.conf"} {
		keys = append(keys, sampleKeys(t, filepath.Join(root, p))...)
	}
	for _, readme := range []string{"README.md", "README.zh-CN.md"} {
		raw, err := os.ReadFile(filepath.Join(root, readme))
		require.NoError(t, err)
		for _, k := range keys {
			require.Contains(t, string(raw), "`"+k+"`", "%s does not mention %s", readme, k)
		}
	}
	for _, plugin := range []string{"plugins/inputs/ckafka_lag", "plugins/outputs/wecom_sms_mail"} {
		raw, err := os.ReadFile(filepath.Join(root, plugin, "README.md"))
		require.NoError(t, err)
		for _, k := range sampleKeys(t, filepath.Join(root, plugin, "sample.conf")) {
			require.Contains(t, string(raw), k, "%s/README.md does not mention %s", plugin, k)
		}
	}
}
