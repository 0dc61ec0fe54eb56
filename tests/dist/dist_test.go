// Package dist tests the release artifacts: make dist twice gives the same
// bytes, and the .deb installs binaries that run.
package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDistIsReproducibleAndInstallable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two architectures twice")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	nfpm := filepath.Join(root, "bin", "nfpm")
	if _, err := os.Stat(nfpm); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; make test builds it with make nfpm", nfpm)
		}
		t.Skip("bin/nfpm is missing: run make nfpm")
	}
	build := func(dir string) string {
		cmd := exec.Command(filepath.Join(root, "packaging", "dist.sh"))
		cmd.Env = append(os.Environ(), "DIST="+dir, "NFPM="+nfpm)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		require.NoError(t, err)
		return string(sums)
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	sums := build(a)
	require.Equal(t, sums, build(b), "two builds, the same bytes")
	for _, name := range []string{"telegraf-ckafka-lag_0.3.0_linux_amd64.tar.gz", "telegraf-ckafka-lag_0.3.0_linux_arm64.tar.gz",
		"telegraf-ckafka-lag_0.3.0_amd64.deb", "telegraf-ckafka-lag_0.3.0_arm64.deb"} {
		require.Contains(t, sums, name)
	}

	tarList, err := exec.Command("tar", "-tzf", filepath.Join(a, "telegraf-ckafka-lag_0.3.0_linux_amd64.tar.gz")).Output()
	require.NoError(t, err)
	for _, f := range []string{"ckafka_lag", "wecom_sms_mail", "sample.conf", "etc/ckafka_lag.conf", "grafana/ckafka_lag_dashboard.json",
		"plugins/processors/starlark/ckafka_lag_alert.star", "README.md", "LICENSE"} {
		require.Contains(t, string(tarList), "telegraf-ckafka-lag_0.3.0_linux_amd64/"+f)
	}

	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	deb := filepath.Join(a, "telegraf-ckafka-lag_0.3.0_amd64.deb")
	info, err := exec.Command("dpkg-deb", "-I", deb, "conffiles").Output()
	require.NoError(t, err)
	require.Contains(t, string(info), "/etc/telegraf/ckafka_lag.conf")
	require.Contains(t, string(info), "/etc/telegraf/wecom_sms_mail.conf")
	rootfs := t.TempDir()
	out, err := exec.Command("dpkg-deb", "-x", deb, rootfs).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, bin := range []string{"ckafka_lag", "wecom_sms_mail"} {
		out, err := exec.Command(filepath.Join(rootfs, "usr", "bin", bin), "-h").CombinedOutput()
		require.NoError(t, err, string(out))
		require.True(t, strings.Contains(string(out), "-config"), string(out))
	}
	dropin, err := os.ReadFile(filepath.Join(rootfs, "etc/systemd/system/telegraf.service.d/ckafka-lag.conf"))
	require.NoError(t, err)
	require.Contains(t, string(dropin), "EnvironmentFile=-/etc/telegraf/ckafka_lag.env")
	_, err = os.Stat(filepath.Join(rootfs, "usr/share/telegraf-ckafka-lag/ckafka_lag_alert.star"))
	require.NoError(t, err)
}
