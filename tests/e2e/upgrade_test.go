package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/testkit"
)

// TestScriptStartsWithPreviousConstants: the script of this release runs in
// the real Telegraf with the [processors.starlark.constants] of release 0.4
// as they were (testdata/constants-0.4.toml): an upgrade of the script
// never stops Telegraf at start with "undefined: NAME". Settings added
// since are optional (OPTIONAL_SETTINGS, set in an overrides entry).
func TestScriptStartsWithPreviousConstants(t *testing.T) {
	telegraf := testkit.TelegrafBinary(t, root)
	constants, err := os.ReadFile(filepath.Join(root, "plugins", "processors", "starlark", "testdata", "constants-0.4.toml"))
	require.NoError(t, err)
	line := "ckafka_lag,group=billing,topic=orders lag=5000i"
	conf := fmt.Sprintf(`[agent]
  omit_hostname = true
[[inputs.execd]]
  command = ["sh", "-c", "echo '%[1]s'; echo '%[1]s'; sleep 30"]
  signal = "none"
  data_format = "influx"
[[processors.starlark]]
  namepass = ["ckafka_lag"]
  script = %[2]q
%[3]s
[[outputs.file]]
  files = ["stdout"]
`, line, filepath.Join(root, "plugins", "processors", "starlark", "ckafka_lag_alert.star"), constants)
	path, err := testkit.WriteFile(t.TempDir(), "telegraf.conf", conf)
	require.NoError(t, err)
	// --test prints what the processors made of two collections; the
	// execd input's pipe closing at the end is logged as an error and
	// changes the exit code, not the output.
	out, _ := exec.Command(telegraf, "--config", path, "--test", "--test-wait", "2").CombinedOutput()
	require.NotContains(t, string(out), "undefined:", "the script needs a constant 0.4 did not have")
	require.Contains(t, string(out), `alert_level="critical",alert_reason="lag",alert_threshold=2000i`, "%s", out)
}
