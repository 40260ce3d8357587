#!/usr/bin/env bash
# The Docker part of the setup, idempotent and quick once done: a Docker engine that answers, a local
# base image, the reference system's wheels and the reference image `rag-chaos/reference:latest`.
#
#   docker.io + debootstrap (Debian packages, only when missing)
#   dockerd --bridge=none --iptables=false --ip-forward=false   (only when no engine answers;
#            log .tools/dockerd.log, pid .tools/dockerd.pid; scripts/stop-docker.sh stops it)
#   base image  rag-chaos/base:bookworm  <- debootstrap | docker import   (no registry is needed)
#   wheels      .tools/docker/wheels/    <- pip download on the host: TLS to the package index is not
#                                           trusted inside containers, so the image installs offline
#   reference   rag-chaos/reference:latest <- system_under_test/Dockerfile, rebuilt only when the hash
#                                           of its inputs (stored as an image label) changes
#
# The engine is started without a bridge, NAT rules or IP forwarding: the harness runs every container
# with host networking on 127.0.0.1, and nothing here changes the host's network.
# RAG_CHAOS_BASE_IMAGE=python:3.11-slim uses (pulls) that image instead of building the local base.
# Exit 3 with a message naming the step when something cannot be set up.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup-docker: [%3ds] %s\n' "$SECONDS" "$*" >&2; }
fail() { log "$*"; exit 3; }
trap 'fail "failed at line $LINENO: $BASH_COMMAND"' ERR

TOOLS="$PWD/.tools"
WHEELS="$TOOLS/docker/wheels"
LOCAL_BASE="rag-chaos/base:bookworm"
BASE_IMAGE="${RAG_CHAOS_BASE_IMAGE:-$LOCAL_BASE}"
REFERENCE_IMAGE="rag-chaos/reference:latest"
# Only what the three reference services import; the specifiers are read from pyproject.toml.
SERVICE_DEPS="fastapi uvicorn aiohttp pybreaker prometheus-client numpy"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "run as root or install sudo: the engine and debootstrap need root"
  SUDO="sudo"
fi
DOCKER="$SUDO docker"
PYTHON=".venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="python3"

# -- Debian packages ---------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "need ${missing[*]} and there is no apt-get: install a Docker engine by hand"
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq || fail "apt-get update failed"
  $SUDO env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes NEEDRESTART_SUSPEND=1 apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

# -- the engine --------------------------------------------------------------------------------------
if ! $DOCKER info >/dev/null 2>&1; then
  mkdir -p "$TOOLS"
  # A pidfile left by an engine that was killed (machine reset) would stop dockerd from starting if
  # its PID now belongs to another process.
  if [ -s "$TOOLS/dockerd.pid" ] && [ "$(cat "/proc/$(cat "$TOOLS/dockerd.pid")/comm" 2>/dev/null || true)" != dockerd ]; then
    $SUDO rm -f "$TOOLS/dockerd.pid"
  fi
  log "starting dockerd (log: .tools/dockerd.log)"
  # setsid: the engine outlives this script and is not hit by the terminal's Ctrl-C.
  $SUDO setsid dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --pidfile "$TOOLS/dockerd.pid" </dev/null >>"$TOOLS/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    $DOCKER info >/dev/null 2>&1 && break
    if ! kill -0 $! 2>/dev/null; then
      tail -n 5 "$TOOLS/dockerd.log" >&2 || true
      fail "dockerd exited at start-up (see .tools/dockerd.log)"
    fi
    sleep 0.2
  done
  $DOCKER info >/dev/null 2>&1 || fail "dockerd did not answer within 30s (see .tools/dockerd.log)"
fi

# -- the base image ----------------------------------------------------------------------------------
if ! $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [ "$BASE_IMAGE" != "$LOCAL_BASE" ]; then
    log "pulling $BASE_IMAGE"
    $DOCKER pull -q "$BASE_IMAGE" >/dev/null || fail "cannot pull $BASE_IMAGE (unset RAG_CHAOS_BASE_IMAGE to build a local base)"
  else
    log "building $LOCAL_BASE with debootstrap (about a minute)"
    rootfs="$TOOLS/docker/rootfs"
    $SUDO rm -rf "$rootfs"
    mkdir -p "$rootfs"
    $SUDO debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" >"$TOOLS/debootstrap.log" 2>&1 \
      || fail "debootstrap failed (see .tools/debootstrap.log)"
    # Downloaded .debs and package lists are not needed at run time: drop them to keep the image small.
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    $SUDO tar -C "$rootfs" -c . | $DOCKER import -c 'CMD ["python3"]' - "$LOCAL_BASE" >/dev/null \
      || fail "docker import of the base image failed"
    $SUDO rm -rf "$rootfs"
  fi
fi

# -- wheels for the image's interpreter, downloaded on the host ---------------------------------------
requirements="$("$PYTHON" - "$SERVICE_DEPS" <<'EOF'
import re, sys, tomllib
wanted = set(sys.argv[1].split())
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
picked = [d for d in deps if re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0].lower() in wanted]
names = {re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0].lower() for d in picked}
if names != wanted:
    sys.exit(f"pyproject.toml lacks {sorted(wanted - names)}")
print("\n".join(sorted(picked)))
EOF
)" || fail "cannot read the service dependencies from pyproject.toml"
# The image's Python version and C library decide which wheels it can install.
target="$($DOCKER run --rm --network host --entrypoint python3 "$BASE_IMAGE" -c \
  'import platform, sys; print("%d.%d %s %s" % (sys.version_info[:2] + (platform.libc_ver()[1], platform.machine())))')" \
  || fail "cannot run python3 in $BASE_IMAGE"
read -r pyver glibc arch <<<"$target"
[[ "$glibc" == 2.* ]] || fail "python3 in $BASE_IMAGE is not built on glibc: use a Debian-like base image"
wheel_key="$(printf '%s\n%s\n' "$requirements" "$target" | sha256sum | cut -c1-16)"
if [ "$(cat "$WHEELS/.key" 2>/dev/null)" != "$wheel_key" ]; then
  log "downloading wheels for Python $pyver, glibc $glibc, $arch into .tools/docker/wheels"
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS"
  printf '%s\n' "$requirements" >"$WHEELS/requirements.txt"
  # pip does not widen manylinux_2_N to older glibc versions by itself: list every one the image accepts.
  platforms=()
  for minor in $(seq 17 "${glibc#2.}"); do platforms+=(--platform "manylinux_2_${minor}_${arch}"); done
  platforms+=(--platform "manylinux2014_${arch}")
  "$PYTHON" -m pip download --dest "$WHEELS" --only-binary=:all: --implementation cp \
    --python-version "$pyver" "${platforms[@]}" -r "$WHEELS/requirements.txt" >"$TOOLS/docker/pip.log" 2>&1 \
    || { tail -n 5 "$TOOLS/docker/pip.log" >&2; fail "pip download of the reference system's wheels failed (see .tools/docker/pip.log)"; }
  printf '%s\n' "$wheel_key" >"$WHEELS/.key"
fi

# -- the reference image -----------------------------------------------------------------------------
inputs="$({
  find system_under_test -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
  sha256sum .dockerignore
  cat "$WHEELS/.key"
  $DOCKER image inspect -f '{{.Id}}' "$BASE_IMAGE"
} | sha256sum | cut -c1-16)"
current="$($DOCKER image inspect -f '{{index .Config.Labels "rag-chaos.inputs"}}' "$REFERENCE_IMAGE" 2>/dev/null || true)"
if [ "$current" != "$inputs" ]; then
  log "building $REFERENCE_IMAGE"
  # The classic builder: it needs no buildx plugin and can build from a locally imported base.
  DOCKER_BUILDKIT=0 $DOCKER build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "rag-chaos.inputs=$inputs" -t "$REFERENCE_IMAGE" -f system_under_test/Dockerfile . \
    >"$TOOLS/docker/build.log" 2>&1 \
    || { tail -n 5 "$TOOLS/docker/build.log" >&2; fail "docker build of $REFERENCE_IMAGE failed (see .tools/docker/build.log)"; }
  # The previous build's image lost its tag: remove it (only untagged images of ours).
  $DOCKER image prune -f --filter "label=rag-chaos.inputs" >/dev/null || true
fi
log "engine ready, $REFERENCE_IMAGE up to date"
