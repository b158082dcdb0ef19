# Shared helpers for the bench drivers in scripts/bench/ (sourced, not run).
#
# Every driver runs from the repository root, writes each system's result as one entry file under
# out/bench/NAME.d/ID.json (see report.py for the format), then has report.py print the table and
# write out/bench/NAME.json. A peer that cannot run (no venv, a package missing, no mpirun) gets an
# entry that says it was skipped and why; so does DLP when its binary is missing or fails.
#
# Environment:
#   DLP_BIN         the dlp executable (default .build/release/dlp)
#   DLP_NO_BUILD=1  do not run `swift build -c release` first (same as --no-build)
#   DLP_VENV        the peers' virtual environment (default .venv; make it with scripts/peers/setup-venv)
#   PYTHON          the python3 that runs report.py (stdlib only; default python3)
#   DLP_BENCH_QUIET_WAIT=S  before each run, wait up to S seconds (default 120; 0: never) for the
#                   machine to be idle (other processes using < 15% of the CPUs over 2 s); the CPU
#                   use seen just before each run is recorded in its entry as busy_before.
#   DLP_BENCH_NICE=N  run every measured command (DLP and peers alike) under `nice -n N`; on a
#                   machine shared with other work, N=-10 (as root) keeps the figures close to a
#                   quiet machine's (torch's spinning OpenMP threads collapse when preempted).

set -uo pipefail

BENCH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$BENCH_REPO" || exit 1

DLP_BIN="${DLP_BIN:-.build/release/dlp}"
VENV="${DLP_VENV:-.venv}"
VPY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
REPORT_PY="scripts/bench/report.py"
BENCH_OUT="out/bench"
mkdir -p "$BENCH_OUT"

bench_log() { echo "[$BENCH_NAME] $*" >&2; }

# bench_init NAME: sets BENCH_NAME, BENCH_DIR (fresh entry folder) and BENCH_LOGS.
bench_init() {
  BENCH_NAME="$1"
  BENCH_DIR="$BENCH_OUT/$BENCH_NAME.d"
  BENCH_LOGS="$BENCH_OUT/logs/$BENCH_NAME"
  rm -rf "$BENCH_DIR"
  mkdir -p "$BENCH_DIR" "$BENCH_LOGS"
  bench_log "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Options shared by every driver; each driver handles its own first and passes the rest here.
BENCH_NO_BUILD="${DLP_NO_BUILD:-0}"
BENCH_SKIP_DLP=0
BENCH_SKIP_PEERS=0
bench_common_option() {
  case "$1" in
    --no-build) BENCH_NO_BUILD=1 ;;
    --dlp-only) BENCH_SKIP_PEERS=1 ;;
    --peers-only) BENCH_SKIP_DLP=1 ;;
    *) return 1 ;;
  esac
}
BENCH_COMMON_USAGE="  --no-build     do not run 'swift build -c release' first
  --dlp-only     run only DLP
  --peers-only   run only the peers"

# ensure_time: /usr/bin/time (GNU time, for peak RSS); installed with apt-get when missing and root.
ensure_time() {
  if [ -x /usr/bin/time ]; then return 0; fi
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    bench_log "installing GNU time (for peak RSS)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1; }
  fi
  [ -x /usr/bin/time ]
}

# build_dlp: swift build -c release (unless --no-build); sets DLP_MISSING to a reason when the
# binary cannot be had.
DLP_MISSING=""
build_dlp() {
  if [ "$BENCH_SKIP_DLP" = 1 ]; then DLP_MISSING="DLP not run (--peers-only)"; return; fi
  if [ "$BENCH_NO_BUILD" != 1 ]; then
    if command -v swift >/dev/null 2>&1; then
      bench_log "swift build -c release"
      if ! swift build -c release >"$BENCH_LOGS/swift-build.log" 2>&1; then
        bench_log "swift build failed; see $BENCH_LOGS/swift-build.log"
      fi
    else
      bench_log "swift not on PATH; not building"
    fi
  fi
  if [ ! -x "$DLP_BIN" ]; then
    DLP_MISSING="DLP binary $DLP_BIN not found (build with: swift build -c release)"
    bench_log "$DLP_MISSING"
  fi
}

# cpu_busy: percent of all CPUs busy over 2 seconds (from /proc/stat).
cpu_busy() {
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  sleep 2
  b=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; idle = y[2] - x[2]; if (busy + idle == 0) print 0; else printf "%.0f", 100 * busy / (busy + idle) }'
}

# wait_quiet: waits (up to DLP_BENCH_QUIET_WAIT seconds) for the machine to be idle; sets BUSY_BEFORE.
BUSY_BEFORE=""
wait_quiet() {
  local limit="${DLP_BENCH_QUIET_WAIT:-120}" waited=0
  BUSY_BEFORE=$(cpu_busy)
  while [ "$limit" -gt 0 ] && [ "$BUSY_BEFORE" -ge 15 ] && [ "$waited" -lt "$limit" ]; do
    [ "$waited" = 0 ] && bench_log "machine busy (${BUSY_BEFORE}% CPU used by other processes); waiting up to ${limit}s"
    sleep 3
    waited=$((waited + 5))
    BUSY_BEFORE=$(cpu_busy)
  done
  if [ "$BUSY_BEFORE" -ge 15 ]; then bench_log "warning: machine still ${BUSY_BEFORE}% busy; figures will be low"; fi
}

# timed ID LOGPREFIX -- CMD...: runs CMD under /usr/bin/time -v when present, stdout to
# LOGPREFIX.out, stderr to LOGPREFIX.err; sets TIMED_RC, TIMED_WALL (seconds) and TIMED_RSS_FILE.
timed() {
  local prefix="$1"; shift
  [ "$1" = "--" ] && shift
  TIMED_RSS_FILE=""
  wait_quiet
  if [ -n "${DLP_BENCH_NICE:-}" ]; then set -- nice -n "$DLP_BENCH_NICE" "$@"; fi
  local start end
  TIMED_STAT_BEFORE=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    TIMED_RSS_FILE="$prefix.time"
    /usr/bin/time -v -o "$TIMED_RSS_FILE" "$@" >"$prefix.out" 2>"$prefix.err"
  else
    "$@" >"$prefix.out" 2>"$prefix.err"
  fi
  TIMED_RC=$?
  end=$(date +%s.%N)
  TIMED_STAT_AFTER=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
  TIMED_WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
}

# skip_entry ID LABEL KIND REASON
skip_entry() {
  bench_log "$2: skipped: $4"
  "$PYTHON" "$REPORT_PY" entry --id "$1" --label "$2" --kind "$3" --skipped "$4" -o "$BENCH_DIR/$1.json"
}

# run_dlp ID LABEL REPORT_JSON -- DLP_ARGS...: runs "$DLP_BIN DLP_ARGS" (which should include
# --report REPORT_JSON) and records its report, wall time and peak RSS.
run_dlp() {
  local id="$1" label="$2" report="$3"; shift 3
  [ "$1" = "--" ] && shift
  if [ -n "$DLP_MISSING" ]; then skip_entry "$id" "$label" dlp "$DLP_MISSING"; return; fi
  rm -f "$report"
  bench_log "$label: $DLP_BIN $*"
  timed "$BENCH_LOGS/$id" -- "$DLP_BIN" "$@"
  local cmd="${DLP_BENCH_NICE:+nice -n $DLP_BENCH_NICE }$DLP_BIN $*"
  if [ "$TIMED_RC" -ne 0 ] || [ ! -s "$report" ]; then
    skip_entry "$id" "$label" dlp "failed (exit $TIMED_RC; see $BENCH_LOGS/$id.err)"
    return
  fi
  "$PYTHON" "$REPORT_PY" entry --id "$id" --label "$label" --kind dlp --dlp-report "$report" \
    --wall "$TIMED_WALL" --busy-before "$BUSY_BEFORE" --stat "$TIMED_STAT_BEFORE" "$TIMED_STAT_AFTER" ${TIMED_RSS_FILE:+--time-file "$TIMED_RSS_FILE"} --command "$cmd" \
    -o "$BENCH_DIR/$id.json"
}

# venv_version PACKAGE: the package's version in the venv, or "?".
venv_version() { "$VPY" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || echo "?"; }

# peer_ready MODULES...: true when the venv exists and imports every module; else sets PEER_MISSING.
PEER_MISSING=""
peer_ready() {
  PEER_MISSING=""
  if [ "$BENCH_SKIP_PEERS" = 1 ]; then PEER_MISSING="peers not run (--dlp-only)"; return 1; fi
  if [ ! -x "$VPY" ]; then
    PEER_MISSING="no Python venv at $VENV (make it with scripts/peers/setup-venv)"; return 1
  fi
  local m
  for m in "$@"; do
    # find_spec, not import: keras without KERAS_BACKEND would try TensorFlow.
    if ! "$VPY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$m') is None)" >/dev/null 2>&1; then
      PEER_MISSING="Python package '$m' not importable in $VENV (run scripts/peers/setup-venv)"; return 1
    fi
  done
  return 0
}

# run_peer ID LABEL "MODULES" -- CMD...: runs a peer whose stdout's last line is its JSON record.
run_peer() {
  local id="$1" label="$2" modules="$3"; shift 3
  [ "$1" = "--" ] && shift
  # shellcheck disable=SC2086
  if ! peer_ready $modules; then skip_entry "$id" "$label" peer "$PEER_MISSING"; return; fi
  bench_log "$label: $*"
  timed "$BENCH_LOGS/$id" -- "$@"
  if [ "$TIMED_RC" -ne 0 ]; then
    skip_entry "$id" "$label" peer "failed (exit $TIMED_RC; see $BENCH_LOGS/$id.err)"
    return
  fi
  "$PYTHON" "$REPORT_PY" entry --id "$id" --label "$label" --kind peer --peer-output "$BENCH_LOGS/$id.out" \
    --wall "$TIMED_WALL" --busy-before "$BUSY_BEFORE" --stat "$TIMED_STAT_BEFORE" "$TIMED_STAT_AFTER" ${TIMED_RSS_FILE:+--time-file "$TIMED_RSS_FILE"} --command "${DLP_BENCH_NICE:+nice -n $DLP_BENCH_NICE }$*" \
    -o "$BENCH_DIR/$id.json"
}
