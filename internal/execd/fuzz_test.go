package execd

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
)

// countingOutput accepts everything.
type countingOutput struct{ n int }

func (*countingOutput) SampleConfig() string { return "" }
func (*countingOutput) Connect() error       { return nil }
func (*countingOutput) Close() error         { return nil }
func (c *countingOutput) Write(ms []telegraf.Metric) error {
	c.n += len(ms)
	return nil
}

// FuzzRunOutput feeds any bytes to the output's stdin loop: it must never
// panic or stop early on a bad line.
func FuzzRunOutput(f *testing.F) {
	f.Add([]byte("ckafka_lag,group=g,topic=t alert_level=\"critical\",lag=2500i 1700000000000000000\n"))
	f.Add([]byte("not line protocol\ncpu usage=1\n"))
	f.Add([]byte("m,t=\\ \\,\\= f=\"\\\"\" \n\x00\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := &countingOutput{}
		_ = RunOutput(out, bytes.NewReader(in), testutil.Logger{Quiet: true})
	})
}

type anyConfig struct {
	Name  string            `toml:"name"`
	Count int               `toml:"count"`
	List  []string          `toml:"list"`
	Map   map[string]string `toml:"map"`
	Sub   *struct {
		Key string `toml:"key"`
	} `toml:"sub"`
}

// FuzzLoadPlugin loads any bytes as a plugin config: an error, never a
// panic.
func FuzzLoadPlugin(f *testing.F) {
	f.Add([]byte("[[outputs.x]]\n  name = \"a\"\n  count = 3\n  [outputs.x.sub]\n    key = \"${HOME}\"\n"))
	f.Add([]byte("[[inputs.x]]\n  list = [\"a\", 1]\n"))
	f.Add([]byte("[[outputs.x]]\n  unknown = 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, conf []byte) {
		path := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(path, conf, 0o600); err != nil {
			t.Skip()
		}
		_ = LoadPlugin(path, "outputs", "x", &anyConfig{})
		_ = LoadPlugin(path, "inputs", "x", &anyConfig{})
	})
}
