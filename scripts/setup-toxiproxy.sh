#!/usr/bin/env bash
# Makes toxiproxy-server 2.12.0 available at .tools/bin/toxiproxy-server, built from its Go module.
#
# Skipped at once when a toxiproxy-server of that version is already there, on PATH or named by
# HARNESS_TOXIPROXY_BIN. Otherwise it needs Go >= 1.23, which it finds or gets without leaving the
# package registries:
#   go >= 1.23           used as it is
#   go 1.21 .. 1.22      GOTOOLCHAIN=go1.23.x makes go fetch the newer toolchain through the module proxy
#   go < 1.21 (Debian 12's golang-go is 1.19, which knows nothing of GOTOOLCHAIN)
#                        'go mod download' fetches the same toolchain module that GOTOOLCHAIN would
#                        (golang.org/toolchain, checksum-verified) and the build uses its bin/go
#   no go at all         Debian's golang-go is installed first, then as above
# Prints one line per step to stderr; exits 3 with the reason when the server cannot be made available.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=2.12.0
MODULE=github.com/Shopify/toxiproxy/v2
TOOLCHAIN=go1.23.12 # any go1.23+ builds it; pinned so every machine builds with the same compiler
BIN_DIR=.tools/bin
TARGET=$BIN_DIR/toxiproxy-server

log() { printf 'setup-toxiproxy: %s\n' "$*" >&2; }
GO_LOG=""
fail() {
  if [ -n "$GO_LOG" ] && [ -s "$GO_LOG" ]; then tail -n 20 "$GO_LOG" >&2; fi
  log "FAILED: $*"
  log "fix that and re-run scripts/setup.sh, or put a toxiproxy-server $VERSION on PATH or in HARNESS_TOXIPROXY_BIN"
  exit 3
}

is_wanted_version() { # the binary answers '-version' with exactly our version
  [ -x "$1" ] && [ "$("$1" -version 2>/dev/null)" = "toxiproxy-server version $VERSION" ]
}

if [ -n "${HARNESS_TOXIPROXY_BIN:-}" ] && is_wanted_version "$HARNESS_TOXIPROXY_BIN"; then
  log "toxiproxy-server $VERSION given by HARNESS_TOXIPROXY_BIN=$HARNESS_TOXIPROXY_BIN"
  exit 0
fi
if is_wanted_version "$TARGET"; then
  log "toxiproxy-server $VERSION already at $TARGET"
  exit 0
fi
if on_path=$(command -v toxiproxy-server 2>/dev/null) && is_wanted_version "$on_path"; then
  log "toxiproxy-server $VERSION already on PATH at $on_path"
  exit 0
fi

go_minor() { # "1.19.8" / "go1.23.12" -> 19 / 23; 0 when unknown (devel builds count as new enough)
  local v
  v=$("$1" env GOVERSION 2>/dev/null || true)
  case "$v" in
    go1.*) v=${v#go1.}; echo "${v%%[!0-9]*}" ;;
    devel*) echo 99 ;;
    *) echo 0 ;;
  esac
}

# The chatter of apt and go (downloads) goes to a log shown only when a step fails.
GO_LOG=$(mktemp "${TMPDIR:-/tmp}/setup-toxiproxy.XXXXXX")
trap 'rm -f "$GO_LOG"' EXIT

GO=${GO:-$(command -v go 2>/dev/null || true)}
if [ -z "$GO" ]; then
  for candidate in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [ -x "$candidate" ]; then GO=$candidate; break; fi
  done
fi
if [ -z "$GO" ]; then
  command -v apt-get >/dev/null 2>&1 || fail "Go is not installed and there is no apt-get to install it"
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
  log "installing Debian's golang-go (a bootstrap: the build may use a newer toolchain)"
  $SUDO apt-get update -qq >>"$GO_LOG" 2>&1 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l $SUDO apt-get install -y -qq golang-go >>"$GO_LOG" 2>&1 \
    || fail "apt-get install golang-go failed"
  GO=$(command -v go 2>/dev/null) || fail "golang-go was installed but 'go' is not on PATH"
fi

minor=$(go_minor "$GO")
[ "$minor" -gt 0 ] || fail "cannot tell the version of $GO"
export GOTOOLCHAIN=local
if [ "$minor" -ge 23 ]; then
  log "using $("$GO" env GOVERSION) at $GO"
elif [ "$minor" -ge 21 ]; then
  log "$GO is go1.$minor; building with GOTOOLCHAIN=$TOOLCHAIN (fetched through the Go module proxy)"
  export GOTOOLCHAIN=$TOOLCHAIN
else
  arch=$("$GO" env GOHOSTOS)-$("$GO" env GOHOSTARCH)
  log "$GO is go1.$minor (too old for GOTOOLCHAIN); fetching the $TOOLCHAIN toolchain module for $arch"
  toolchain_dir=$(GOFLAGS=-modcacherw "$GO" mod download -json "golang.org/toolchain@v0.0.1-$TOOLCHAIN.$arch" 2>>"$GO_LOG" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || true
  if [ -z "$toolchain_dir" ] || [ ! -f "$toolchain_dir/bin/go" ]; then
    fail "could not download the $TOOLCHAIN toolchain module"
  fi
  # Module zips do not keep executable bits; GOTOOLCHAIN restores them the same way.
  chmod +x "$toolchain_dir"/bin/* "$toolchain_dir"/pkg/tool/*/*
  GO=$toolchain_dir/bin/go
  log "using $("$GO" env GOVERSION) at $GO"
fi

mkdir -p "$BIN_DIR"
build_dir=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
trap 'rm -rf "$build_dir" "$GO_LOG"' EXIT
log "building $MODULE/cmd/server@v$VERSION (takes about a minute the first time)"
GOBIN=$(cd "$build_dir" && pwd) "$GO" install \
  -ldflags "-X $MODULE.Version=$VERSION" "$MODULE/cmd/server@v$VERSION" >>"$GO_LOG" 2>&1 \
  || fail "go install $MODULE/cmd/server@v$VERSION failed (see the messages above)"
is_wanted_version "$build_dir/server" || fail "the built server does not report version $VERSION"
mv -f "$build_dir/server" "$TARGET" # same directory: an atomic rename, never a half-written binary
log "toxiproxy-server $VERSION installed at $TARGET"
