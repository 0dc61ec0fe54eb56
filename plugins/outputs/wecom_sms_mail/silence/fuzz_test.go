package silence

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoadSilences reads any bytes as the silence file.
func FuzzLoadSilences(f *testing.F) {
	f.Add([]byte(`{"version":1,"silences":[{"id":"a","matchers":[{"tag":"group","glob":"billing-*"}],"starts_at":"2026-11-24T00:00:00Z","ends_at":"2026-11-24T02:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"silences":[{"matchers":[{"tag":"","glob":"[a"}]}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "silences")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		ss, _ := Load(path, time.Unix(0, 0))
		ss.Silenced(map[string]string{"group": "billing-1"}, time.Unix(1, 0))
	})
}
