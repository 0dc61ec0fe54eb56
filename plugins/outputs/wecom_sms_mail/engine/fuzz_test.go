package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzReadState reads any bytes as the state file: a corrupt one is moved
// aside, never a panic.
func FuzzReadState(f *testing.F) {
	f.Add([]byte(`{"version":2,"alerts":[{"key":"k","level":"critical","started_at":"2026-11-24T00:00:00Z","history":[{"t":1,"v":2}]}],"sent":{"k":{"wecom":{"since":"2026-11-24T00:00:00Z"}}}}`))
	f.Add([]byte(`{"version":1,"told":{"k":["sms"]},"alerts":[{"key":"k"}]}`))
	f.Add([]byte(`{"version":2,"queues":{"sms":[{"deliveries":[{"params":["a"],"phones":["+86"]}],"next":5}]}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "state")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		s, _, err := ReadState(path, time.Unix(0, 0))
		if err == nil && s == nil {
			t.Fatal("no state and no error")
		}
	})
}

// FuzzReadJournal reads any bytes as the delivery journal: records with a
// destination or nothing, never a panic.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"dest":"wecom robot 1","created":"2026-12-02T03:00:00Z","next":1,"at":"2026-12-02T03:00:01Z"}` + "\n"))
	f.Add([]byte(`{"dest":"sms","created":"2026-12-02T03:00:00Z","next":2,"at":"2026-12-02T03:00:01Z"}` + "\n{\"dest\":\"cut"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "journal")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Skip()
		}
		records, err := ReadJournal(path)
		if err != nil {
			t.Fatalf("a private journal is never refused: %v", err)
		}
		for _, r := range records {
			if r.Dest == "" {
				t.Fatalf("a record without a destination: %+v", r)
			}
		}
	})
}
