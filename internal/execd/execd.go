// Package execd holds what both of our shim binaries need around Telegraf's
// plugins/common/shim: strict config loading (the shim ignores unknown
// keys), level-prefixed logging that inputs.execd understands, and a
// one-shot gather for debugging.
package execd

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/logger"
)

// SetupLogging sends every Telegraf log message to w as "E! message" (one
// prefix per line), the form inputs.execd maps to log levels. It replaces
// the shim's default, which puts a timestamp first and keeps every message
// in memory forever.
func SetupLogging(w io.Writer, debug bool) error {
	logger.RedirectLogging(io.Discard)
	var mu sync.Mutex
	_, err := logger.AddCallback(func(level telegraf.LogLevel, _ time.Time, _ string, _ map[string]interface{}, args ...interface{}) {
		if level >= telegraf.Debug && !debug {
			return
		}
		msg := fmt.Sprint(args...)
		var b strings.Builder
		for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
			b.WriteString(level.Indicator())
			b.WriteByte(' ')
			b.WriteString(line)
			b.WriteByte('\n')
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, b.String())
	})
	return err
}

// LoadPlugin reads a shim config file, expands $VAR and ${VAR} as the shim
// does, and decodes the one [[kind.name]] table into plugin. Unlike the
// shim it fails on unknown keys, on other plugin tables, and on a second
// table, naming what it found.
func LoadPlugin(path, kind, name string, plugin any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	data := os.Expand(string(raw), func(key string) string {
		return envEscaper.Replace(os.Getenv(key))
	})

	var conf map[string]map[string][]toml.Primitive
	md, err := toml.Decode(data, &conf)
	if err != nil {
		return fmt.Errorf("parsing config %s: %w", path, err)
	}
	for k, tables := range conf {
		for n := range tables {
			if k != kind || n != name {
				return fmt.Errorf("config %s: unexpected table [[%s.%s]]: this binary runs only [[%s.%s]]", path, k, n, kind, name)
			}
		}
	}
	tables := conf[kind][name]
	switch len(tables) {
	case 0:
		return fmt.Errorf("config %s: no [[%s.%s]] table", path, kind, name)
	case 1:
	default:
		return fmt.Errorf("config %s: %d [[%s.%s]] tables; run one process per table", path, len(tables), kind, name)
	}
	if err := md.PrimitiveDecode(tables[0], plugin); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var unknown []string
	for _, key := range md.Undecoded() {
		unknown = append(unknown, key.String())
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config %s: unknown key(s) %s", path, strings.Join(quoteAll(unknown), ", "))
	}
	return nil
}

// envEscaper matches the shim's: values land inside TOML strings.
var envEscaper = strings.NewReplacer(`"`, `\"`, `\`, `\\`)

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}
