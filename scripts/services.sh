#!/usr/bin/env bash
# Local PostgreSQL 15, RabbitMQ (+ management) and s3rver for the distributed-mode tests.
#
#   scripts/services.sh start    install what is missing, start all three, write .services/connection.json
#   scripts/services.sh stop     stop all three (succeeds when nothing runs)
#   scripts/services.sh status   print what runs
#   scripts/services.sh packages print the Debian packages the tests need (what start installs; .ci/run uses it)
#
# Everything listens on 127.0.0.1 only; state lives under .services/ in the repo root (gitignored).
# Ports: TF_PG_PORT (55432), TF_AMQP_PORT (5672), TF_RABBIT_MGMT_PORT (15672), TF_S3_PORT (4568).
# No Docker needed. Every wait is bounded; a timeout fails with the log file to read.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.services"
S3_PKG="$ROOT/scripts/s3"

PG_PORT=${TF_PG_PORT:-55432}
AMQP_PORT=${TF_AMQP_PORT:-5672}
MGMT_PORT=${TF_RABBIT_MGMT_PORT:-15672}
S3_PORT=${TF_S3_PORT:-4568}

PG_BIN=/usr/lib/postgresql/15/bin
RABBIT_BIN=/usr/lib/rabbitmq/bin
PG_USER=talkingface
PG_PASSWORD=talkingface
S3_KEY=S3RVER
S3RVER_VERSION=3.7.1

log() { echo "[services] $*"; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

# step NAME FUNCTION...: run a step and print how long it took.
step() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  "$@"
  log "$(printf '%-28s %6.2f s' "$name" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')")"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION LOGFILE COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
  local secs=$1 what=$2 logfile=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      [ -f "$logfile" ] && { echo "--- last lines of $logfile:" >&2; tail -n 30 "$logfile" >&2; }
      die "timed out after ${secs}s waiting for $what (log: $logfile)"
    fi
    sleep 0.2
  done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# stop_pid PID SECS: wait up to SECS for PID to exit, then SIGKILL it.
stop_pid() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "pid $1 still running after $2 s: SIGKILL"
      kill -9 "$1" 2>/dev/null || true
      return 0
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- installation

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The services, and the tools the tests use as references or helpers (resampling/fbank reference,
# F0 reference, speech clips, non-WAV decoding and the preview video; OpenCV's natives need libgtk-3-0, libdrm2 and
# libatomic1, and the hair stage's default face detector is opencv-data's cascades; the browser tests' Chromium;
# ImageMagick and exiftool make the EXIF-oriented photos).
# prometheus: the telemetry test runs its own instance on a free loopback port (policy-rc.d keeps the packaged one off :9090).
# python3-onnx: the benches' model tools (bench/smoke runs every bench in CI).
APT_PACKAGES=(postgresql rabbitmq-server sox espeak-ng ffmpeg python3-torchaudio python3-onnx libopenblas0-pthread praat
  libgtk-3-0 libdrm2 libatomic1 opencv-data prometheus chromium imagemagick libimage-exiftool-perl)

install_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -eq 0 ]; then log "apt: all packages present"; return; fi
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}) and not root: install them or run as root"
  log "apt: installing ${missing[*]}"
  # Keep the packages' own init scripts from starting system-wide instances (0.0.0.0:5672 etc.).
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  local rc=0
  { timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -qq &&
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
      --no-install-recommends "${missing[@]}"; } || rc=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || die "apt-get failed (exit $rc; 124 means it timed out)"
}

install_s3rver() {
  local stamp="$S3_PKG/node_modules/.talkingface-lock.sha256" want
  want=$(sha256sum "$S3_PKG/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -f "$S3_PKG/node_modules/s3rver/bin/s3rver.js" ]; then
    log "npm: installing s3rver $S3RVER_VERSION (npm ci)"
    (cd "$S3_PKG" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in scripts/s3 (exit $?)"
    echo "$want" >"$stamp"
  fi
  local have
  have=$(node -p "require('$S3_PKG/node_modules/s3rver/package.json').version")
  [ "$have" = "$S3RVER_VERSION" ] || die "scripts/s3 installed s3rver $have, expected $S3RVER_VERSION"
  # s3rver writes a wrong XML namespace; the Minio SDK then parses empty listings. Idempotent.
  sed -i 's#http://doc.s3.amazonaws.com/2006-03-01/#http://s3.amazonaws.com/doc/2006-03-01/#' \
    "$S3_PKG"/node_modules/s3rver/lib/controllers/*.js
  ! grep -q 'doc.s3.amazonaws.com' "$S3_PKG"/node_modules/s3rver/lib/controllers/*.js || die "s3rver namespace patch did not apply"
}

# ---------------------------------------------------------------- state directory

# PostgreSQL and RabbitMQ run as their own system users, which must reach their data dirs.
prepare_state() {
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  DATA="$STATE"
  local u
  for u in postgres rabbitmq; do
    if ! runuser -u "$u" -- test -x "$STATE" -a -r "$STATE"; then
      DATA="/var/tmp/talkingface-services-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)"
      log "note: user $u cannot reach $STATE; keeping database/broker data in $DATA"
      mkdir -p "$DATA" && chmod 755 "$DATA"
      break
    fi
  done
  echo "$DATA" >"$STATE/data-dir"
  # The ports of a running instance win over the environment; stop/status read them from here too.
  if [ -f "$STATE/ports" ] && { s3_running || rabbit_running || pg_running; }; then
    # shellcheck source=/dev/null
    . "$STATE/ports"
  else
    printf 'PG_PORT=%s\nAMQP_PORT=%s\nMGMT_PORT=%s\nS3_PORT=%s\n' "$PG_PORT" "$AMQP_PORT" "$MGMT_PORT" "$S3_PORT" >"$STATE/ports"
  fi
}

# For stop/status: the data dir and ports of the running instance, whatever the environment says now.
load_state() {
  DATA=$(cat "$STATE/data-dir" 2>/dev/null || echo "$STATE")
  if [ -f "$STATE/ports" ]; then
    # shellcheck source=/dev/null
    . "$STATE/ports"
  fi
}

# ---------------------------------------------------------------- PostgreSQL

pg() { runuser -u postgres -- "$PG_BIN/$1" "${@:2}"; }

pg_running() { [ -f "$DATA/pg/PG_VERSION" ] && pg pg_ctl -D "$DATA/pg" status >/dev/null 2>&1; }

start_postgres() {
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 binaries not found in $PG_BIN"
  if pg_running; then log "postgres: already running"; return; fi
  if [ ! -f "$DATA/pg/PG_VERSION" ]; then
    # Initialise into a temporary dir and rename it, so a half-done init is never reused.
    local tmp="$DATA/pg.init"
    rm -rf "$tmp" && mkdir -p "$tmp" && chown postgres:postgres "$tmp" && chmod 700 "$tmp"
    timeout 120 runuser -u postgres -- "$PG_BIN/initdb" -D "$tmp" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >"$STATE/pg-initdb.log" 2>&1 ||
      { tail -n 20 "$STATE/pg-initdb.log" >&2; die "initdb failed (log: $STATE/pg-initdb.log)"; }
    cat >>"$tmp/postgresql.conf" <<'EOF'

# --- TalkingFace test instance (scripts/services.sh); port and address are given on the command line
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    # Test role, created offline in single-user mode: no socket or trust rule needed.
    echo "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';" |
      timeout 60 runuser -u postgres -- "$PG_BIN/postgres" --single -D "$tmp" -j postgres >"$STATE/pg-role.log" 2>&1 ||
      { cat "$STATE/pg-role.log" >&2; die "creating role $PG_USER failed"; }
    mv "$tmp" "$DATA/pg"
  fi
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process (set TF_PG_PORT)"
  # pg_ctl keeps the log open; it must be writable by postgres.
  touch "$DATA/postgres.log" && chown postgres "$DATA/postgres.log"
  timeout 90 runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA/pg" -l "$DATA/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT" start >/dev/null ||
    { tail -n 30 "$DATA/postgres.log" >&2; die "postgres did not start within 60 s (log: $DATA/postgres.log)"; }
  wait_for 30 "postgres on 127.0.0.1:$PG_PORT" "$DATA/postgres.log" port_open "$PG_PORT"
}

stop_postgres() {
  if pg_running; then
    timeout 90 runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA/pg" -m fast -w -t 60 stop >/dev/null ||
      die "pg_ctl stop failed or timed out (log: $DATA/postgres.log)"
    log "postgres: stopped"
  else
    log "postgres: not running"
  fi
}

# ---------------------------------------------------------------- RabbitMQ

# One node name per AMQP port, so instances of several checkouts can share epmd.
rabbit_node() { echo "rabbit-$AMQP_PORT@localhost"; }

# rabbit SECS TOOL ARGS...: run a RabbitMQ script as the rabbitmq user with this instance's
# environment, killed after SECS seconds.
rabbit() {
  local secs=$1 home
  shift
  home=$(getent passwd rabbitmq | cut -d: -f6)
  timeout "$secs" runuser -u rabbitmq -- env HOME="$home" \
    RABBITMQ_NODENAME="$(rabbit_node)" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
    ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    RABBITMQ_MNESIA_BASE="$DATA/rabbitmq/mnesia" \
    RABBITMQ_LOG_BASE="$DATA/rabbitmq/log" \
    RABBITMQ_PID_FILE="$DATA/rabbitmq/rabbit.pid" \
    RABBITMQ_CONFIG_FILE="$DATA/rabbitmq/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$DATA/rabbitmq/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$DATA/rabbitmq/enabled_plugins" \
    "$RABBIT_BIN/$1" "${@:2}"
}

rabbit_running() { pid_alive "$DATA/rabbitmq/rabbit.pid"; }

start_rabbitmq() {
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || die "RabbitMQ not found in $RABBIT_BIN"
  if rabbit_running; then log "rabbitmq: already running"; return; fi
  port_open "$AMQP_PORT" && die "port $AMQP_PORT is taken by another process (set TF_AMQP_PORT)"
  port_open "$MGMT_PORT" && die "port $MGMT_PORT is taken by another process (set TF_RABBIT_MGMT_PORT)"
  mkdir -p "$DATA/rabbitmq/mnesia" "$DATA/rabbitmq/log"
  cat >"$DATA/rabbitmq/rabbitmq.conf" <<EOF
# Written by scripts/services.sh on each start.
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
loopback_users.guest = true
EOF
  echo '[rabbitmq_management].' >"$DATA/rabbitmq/enabled_plugins"
  rm -f "$DATA/rabbitmq/rabbit.pid"
  chown -R rabbitmq:rabbitmq "$DATA/rabbitmq"
  rabbit 60 rabbitmq-server -detached >"$STATE/rabbitmq-start.log" 2>&1 ||
    { cat "$STATE/rabbitmq-start.log" >&2; die "rabbitmq-server -detached failed"; }
  # The pid file appears once the VM runs; 'wait' then returns when the broker has booted.
  wait_for 60 "RabbitMQ pid file" "$DATA/rabbitmq/log/$(rabbit_node).log" test -s "$DATA/rabbitmq/rabbit.pid"
  rabbit 120 rabbitmqctl wait --timeout 90 "$DATA/rabbitmq/rabbit.pid" >>"$STATE/rabbitmq-start.log" 2>&1 ||
    { tail -n 30 "$DATA/rabbitmq/log/$(rabbit_node).log" >&2 || true; die "RabbitMQ did not boot within 90 s (logs: $DATA/rabbitmq/log)"; }
  wait_for 30 "RabbitMQ AMQP on 127.0.0.1:$AMQP_PORT" "$DATA/rabbitmq/log/$(rabbit_node).log" port_open "$AMQP_PORT"
  wait_for 30 "RabbitMQ management on 127.0.0.1:$MGMT_PORT" "$DATA/rabbitmq/log/$(rabbit_node).log" port_open "$MGMT_PORT"
}

stop_rabbitmq() {
  if rabbit_running; then
    local pid
    pid=$(cat "$DATA/rabbitmq/rabbit.pid")
    if ! rabbit 70 rabbitmqctl -q stop --timeout 60 >/dev/null 2>&1; then
      # The node did not answer the CLI: SIGTERM makes the Erlang VM shut the broker down cleanly.
      log "rabbitmq: rabbitmqctl stop failed; sending SIGTERM to $pid"
      kill "$pid" 2>/dev/null || true
    fi
    stop_pid "$pid" 30
    log "rabbitmq: stopped"
  else
    log "rabbitmq: not running"
  fi
  rm -f "$DATA/rabbitmq/rabbit.pid"
  # epmd outlives the broker. Stop it only when no Erlang node is registered any more.
  if command -v epmd >/dev/null && ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -names >/dev/null 2>&1; then
    if ! ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -names 2>/dev/null | grep -q '^name '; then
      ERL_EPMD_ADDRESS=127.0.0.1 timeout 5 epmd -kill >/dev/null 2>&1 || true
      log "epmd: stopped"
    else
      log "epmd: other Erlang nodes still registered, left running"
    fi
  fi
}

# ---------------------------------------------------------------- s3rver

s3_running() { pid_alive "$STATE/s3rver.pid"; }

start_s3rver() {
  if s3_running; then log "s3rver: already running"; return; fi
  port_open "$S3_PORT" && die "port $S3_PORT is taken by another process (set TF_S3_PORT)"
  mkdir -p "$STATE/s3"
  # setsid + nohup: the server must outlive this script and its terminal/job.
  setsid nohup node "$S3_PKG/node_modules/s3rver/bin/s3rver.js" \
    --address 127.0.0.1 --port "$S3_PORT" --directory "$STATE/s3" \
    </dev/null >"$STATE/s3rver.log" 2>&1 &
  echo $! >"$STATE/s3rver.pid"
  wait_for 20 "s3rver on 127.0.0.1:$S3_PORT" "$STATE/s3rver.log" port_open "$S3_PORT"
  s3_running || die "s3rver exited (log: $STATE/s3rver.log)"
}

stop_s3rver() {
  if s3_running; then
    local pid
    pid=$(cat "$STATE/s3rver.pid")
    kill "$pid" 2>/dev/null || true
    stop_pid "$pid" 10
    log "s3rver: stopped"
  else
    log "s3rver: not running"
  fi
  rm -f "$STATE/s3rver.pid"
}

# ---------------------------------------------------------------- connection files

write_connection_files() {
  local pg="Host=127.0.0.1;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD"
  cat >"$STATE/connection.json.tmp" <<EOF
{"Postgres":"$pg","RabbitMq":{"Host":"127.0.0.1","Port":$AMQP_PORT,"ManagementPort":$MGMT_PORT,"Username":"guest","Password":"guest"},"S3":{"Endpoint":"127.0.0.1:$S3_PORT","AccessKey":"$S3_KEY","SecretKey":"$S3_KEY","UseSsl":false}}
EOF
  mv "$STATE/connection.json.tmp" "$STATE/connection.json"
  cat >"$STATE/env" <<EOF
# Written by scripts/services.sh start. Use: source .services/env
export TALKINGFACE_SERVICES_FILE='$STATE/connection.json'
export TALKINGFACE_POSTGRES='$pg'
export TALKINGFACE_RABBITMQ_HOST=127.0.0.1
export TALKINGFACE_RABBITMQ_PORT=$AMQP_PORT
export TALKINGFACE_RABBITMQ_MANAGEMENT_PORT=$MGMT_PORT
export TALKINGFACE_RABBITMQ_USERNAME=guest
export TALKINGFACE_RABBITMQ_PASSWORD=guest
export TALKINGFACE_S3_ENDPOINT=127.0.0.1:$S3_PORT
export TALKINGFACE_S3_ACCESS_KEY=$S3_KEY
export TALKINGFACE_S3_SECRET_KEY=$S3_KEY
export TALKINGFACE_S3_USE_SSL=false
# For 'rabbitmqctl' by hand (as root): RABBITMQ_NODENAME selects this broker.
export RABBITMQ_NODENAME=$(rabbit_node)
EOF
  log "wrote $STATE/connection.json and $STATE/env"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local t0=$EPOCHREALTIME
  [ "$(id -u)" -eq 0 ] || die "start must run as root (it starts PostgreSQL and RabbitMQ as their system users)"
  step "apt packages" install_apt
  step "npm s3rver" install_s3rver
  step "state dir" prepare_state
  step "postgres" start_postgres
  step "rabbitmq" start_rabbitmq
  step "s3rver" start_s3rver
  step "connection files" write_connection_files
  log "$(printf 'all services up in %.2f s' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')")"
}

cmd_stop() {
  load_state
  step "s3rver stop" stop_s3rver
  step "rabbitmq stop" stop_rabbitmq
  step "postgres stop" stop_postgres
}

cmd_status() {
  load_state
  local rc=0
  show() { # NAME RUNNING? PORT...
    local name=$1 up=$2; shift 2
    local ports="" p
    for p in "$@"; do if port_open "$p"; then ports+=" $p:open"; else ports+=" $p:closed"; fi; done
    if [ "$up" = 1 ]; then printf '%-9s running  127.0.0.1%s\n' "$name" "$ports"; else printf '%-9s stopped %s\n' "$name" "$ports"; rc=3; fi
  }
  show postgres "$(pg_running && echo 1 || echo 0)" "$PG_PORT"
  show rabbitmq "$(rabbit_running && echo 1 || echo 0)" "$AMQP_PORT" "$MGMT_PORT"
  show s3rver "$(s3_running && echo 1 || echo 0)" "$S3_PORT"
  [ -f "$STATE/connection.json" ] && echo "connection: $STATE/connection.json"
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  packages) printf '%s\n' "${APT_PACKAGES[@]}" ;;
  *) echo "usage: $0 start|stop|status|packages" >&2; exit 2 ;;
esac
