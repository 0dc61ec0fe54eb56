#!/usr/bin/env bash
# make dist: reproducible tarballs and .deb packages for linux/amd64 and
# linux/arm64, and SHA256SUMS. Same commit, same bytes: every timestamp is
# the commit's, builds are -trimpath with no build ID or VCS stamp, tar
# sorts names and drops owners, gzip drops names and times.
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${DIST:-dist}
NFPM=${NFPM:-bin/nfpm}
VERSION=${VERSION:-0.3.0}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1764547200)}
MTIME=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
rm -rf "$DIST"
mkdir -p "$DIST"
for ARCH in amd64 arm64; do
  BUILD="$DIST/build/$ARCH"
  mkdir -p "$BUILD"
  CGO_ENABLED=0 GOOS=linux GOARCH=$ARCH go build -trimpath -buildvcs=false -ldflags "-s -w -buildid=" \
    -o "$BUILD/" ./cmd/ckafka_lag ./cmd/wecom_sms_mail
  NAME="telegraf-ckafka-lag_${VERSION}_linux_${ARCH}"
  STAGE="$DIST/stage/$NAME"
  mkdir -p "$STAGE/plugins/processors/starlark"
  cp "$BUILD/ckafka_lag" "$BUILD/wecom_sms_mail" sample.conf README.md LICENSE "$STAGE/"
  cp -r etc grafana "$STAGE/"
  cp plugins/processors/starlark/ckafka_lag_alert.star "$STAGE/plugins/processors/starlark/"
  find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --mode=go-w \
    -C "$DIST/stage" -cf - "$NAME" | gzip -n -9 > "$DIST/$NAME.tar.gz"
  sed -e "s|\${ARCH}|$ARCH|g; s|\${VERSION}|$VERSION|g; s|\${BUILD}|$BUILD|g; s|\${MTIME}|$MTIME|g" \
    packaging/nfpm.yaml > "$DIST/nfpm-$ARCH.yaml"
  "$NFPM" package --config "$DIST/nfpm-$ARCH.yaml" --packager deb --target "$DIST/telegraf-ckafka-lag_${VERSION}_${ARCH}.deb" >/dev/null
done
rm -rf "$DIST/build" "$DIST/stage" "$DIST"/nfpm-*.yaml
(cd "$DIST" && sha256sum *.tar.gz *.deb > SHA256SUMS)
cat "$DIST/SHA256SUMS"
