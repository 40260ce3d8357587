#!/usr/bin/env bash
# Stops the Docker engine that scripts/setup-docker.sh started (CI teardown), and nothing else: the
# PID comes from .tools/dockerd.pid and must still be a dockerd. An engine this project did not start
# (a system service, Docker Desktop) is left alone. dockerd stops its containers and its containerd
# on SIGTERM; after 30 s it is killed. Exit 3 when it cannot be stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'stop-docker: %s\n' "$*" >&2; }
PIDFILE=.tools/dockerd.pid
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if [ ! -s "$PIDFILE" ]; then
  log "no engine started by this project (no $PIDFILE)"
  exit 0
fi
pid="$(cat "$PIDFILE")"
if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "dockerd" ]; then
  log "process $pid is no longer a dockerd: nothing to stop"
  $SUDO rm -f "$PIDFILE"
  exit 0
fi
log "stopping dockerd (pid $pid)"
$SUDO kill -TERM "$pid"
for _ in $(seq 1 300); do
  [ -d "/proc/$pid" ] || break
  sleep 0.1
done
if [ -d "/proc/$pid" ]; then
  log "dockerd did not exit within 30s: killing it"
  $SUDO kill -KILL "$pid" || true
  sleep 0.5
  [ -d "/proc/$pid" ] && { log "cannot stop dockerd (pid $pid)"; exit 3; }
fi
$SUDO rm -f "$PIDFILE"
# dockerd leaves its bind mount of the host's network namespace (used for host networking) behind.
if mountpoint -q /run/docker/netns/default 2>/dev/null; then $SUDO umount /run/docker/netns/default || true; fi
log "stopped"
