// Package testkit helps tests drive the built binaries: it compiles them
// and parses the line protocol they print.
package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/ckafka-lag/telegraf-ckafka-lag/internal/execd"
)

// Module is this module's import path.
const Module = "github.com/ckafka-lag/telegraf-ckafka-lag"

// BuildBinaries compiles the named commands (e.g. "ckafka_lag") into dir.
// Call it from TestMain: the build cache makes repeated builds cheap.
func BuildBinaries(dir string, names ...string) error {
	for _, name := range names {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), Module+"/cmd/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", name, err, out)
		}
	}
	return nil
}

// Metric is one parsed line.
type Metric struct {
	Name   string
	Tags   map[string]string
	Fields map[string]any
	Time   time.Time
}

// ParseLines parses line protocol with the decoder the output binary uses;
// it fails on the first malformed line.
func ParseLines(data []byte) ([]Metric, error) {
	var out []Metric
	dec := lineprotocol.NewDecoderWithBytes(data)
	for dec.Next() {
		m, err := execd.DecodeMetric(dec)
		if err != nil {
			return nil, err
		}
		out = append(out, Metric{Name: m.Name(), Tags: m.Tags(), Fields: m.Fields(), Time: m.Time()})
	}
	return out, nil
}

// Select returns the metrics named name.
func Select(ms []Metric, name string) []Metric {
	var out []Metric
	for _, m := range ms {
		if m.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// WriteFile writes a file under dir and returns its path.
func WriteFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(content), 0o600)
}

// SyncBuffer is a bytes.Buffer safe for a writer process and a reading test.
type SyncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

// NewSyncBuffer returns an empty buffer.
func NewSyncBuffer() *SyncBuffer { return &SyncBuffer{mu: make(chan struct{}, 1)} }

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// PeakRSS polls a running process's VmHWM (its own high-water mark, in
// bytes) until done is closed. ru_maxrss is no use here: Go starts children
// with vfork semantics, so the child's figure includes the parent's RSS.
func PeakRSS(pid int, done <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, ok := readHWM(pid); ok {
				peak = max(peak, v)
			}
			select {
			case <-done:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func readHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			var kb int64
			if _, err := fmt.Sscan(string(rest), &kb); err == nil {
				return kb * 1024, true
			}
		}
	}
	return 0, false
}

// WaitForInputConsumed reports when process pid has read file descriptor fd
// up to size bytes (its position in /proc/PID/fdinfo), or when it exits.
func WaitForInputConsumed(pid, fd int, size int64) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		path := fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd)
		for {
			b, err := os.ReadFile(path)
			if err != nil {
				out <- time.Now()
				return
			}
			var pos int64
			if _, err := fmt.Sscanf(string(b), "pos:\t%d", &pos); err == nil && pos >= size {
				out <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return out
}

// MainWithBinaries is a TestMain body: it builds the named commands into a
// temporary directory, passes the directory to use, runs the tests and
// removes it. It returns the exit code for os.Exit.
func MainWithBinaries(m interface{ Run() int }, use func(dir string), names ...string) int {
	dir, err := os.MkdirTemp("", "bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := BuildBinaries(dir, names...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	use(dir)
	return m.Run()
}

// Await returns the next value from ch, failing the test after d.
func Await[T any](tb interface {
	Helper()
	Fatalf(string, ...any)
}, ch <-chan T, d time.Duration, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		tb.Fatalf("timed out after %s waiting for %s", d, what)
	}
	var zero T
	return zero
}

// AwaitMatch waits for the first value on ch that match accepts, and
// returns it with every value read on the way. A test names the one event
// it waits for (a message by its kind and title), so that another kind of
// message carrying the same words cannot stand in for it.
func AwaitMatch[T any](tb interface {
	Helper()
	Fatalf(string, ...any)
}, ch <-chan T, d time.Duration, what string, match func(T) bool) (T, []T) {
	tb.Helper()
	var seen []T
	deadline := time.After(d)
	for {
		select {
		case v := <-ch:
			seen = append(seen, v)
			if match(v) {
				return v, seen
			}
		case <-deadline:
			var got []string
			for _, v := range seen {
				got = append(got, fmt.Sprintf("%+v", v))
			}
			tb.Fatalf("timed out after %s waiting for %s; got instead:\n%s", d, what, strings.Join(got, "\n---\n"))
			var zero T
			return zero, seen
		}
	}
}

// Quiet fails the test if anything arrives on ch within d.
func Quiet[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(d):
	}
}

// ChildPID returns the pid of parent's child process running the command
// named name (as /proc/PID/stat shows it), or 0 when there is none, e.g.
// while Telegraf is restarting it.
func ChildPID(parent int, name string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		open, closeParen := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeParen < 0 || s[open+1:closeParen] != name {
			continue
		}
		// After the name: state, then the parent's pid.
		fields := strings.Fields(s[closeParen+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			return pid
		}
	}
	return 0
}

// TelegrafBinary returns root/bin/telegraf, built by `make telegraf`. When
// it is missing the test is skipped, or fails in CI (CI=true), where `make
// test` must have built it.
func TelegrafBinary(tb testing.TB, root string) string {
	tb.Helper()
	bin := filepath.Join(root, "bin", "telegraf")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing; `make test` builds it with `make telegraf`", bin)
		}
		tb.Skipf("%s is missing: run `make telegraf` (make test does)", bin)
	}
	return bin
}
