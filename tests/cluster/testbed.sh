#!/usr/bin/env bash
# Start and stop throw-away Kubernetes control planes on loopback.
#
# Usage:
#   tests/cluster/testbed.sh up   [--dir DIR] [--clusters 1|2] [--version V] [--watch-pid PID] [--purge]
#   tests/cluster/testbed.sh versions
#   tests/cluster/testbed.sh down --dir DIR [--purge]
#   tests/cluster/testbed.sh status --dir DIR
#   tests/cluster/testbed.sh restart-apiserver --dir DIR [--cluster 1|2] [--down-seconds N] [--grace-seconds G]
#   tests/cluster/testbed.sh stop-apiserver  --dir DIR [--cluster 1|2] [--grace-seconds G]
#   tests/cluster/testbed.sh start-apiserver --dir DIR [--cluster 1|2]
#
# up      starts one etcd and, per cluster, a kube-apiserver (with its own
#         --etcd-prefix, so the clusters share nothing) and a
#         kube-controller-manager, all on free 127.0.0.1 ports. It waits for
#         /readyz, writes DIR/kubeconfig (TLS verified against the apiserver's
#         own certificate) and prints KEY=VALUE lines (also in DIR/testbed.env).
#         Contexts: stepwise-test (admin), stepwise-test-restricted
#         (get/list/watch only), and with --clusters 2 also stepwise-test-2 and
#         stepwise-test-2-restricted.
#         --version V  the Kubernetes release (a built version, a minor such
#                      as 1.33, newest or oldest; default: newest)
#         --watch-pid PID  a detached reaper runs `down` once PID has exited,
#                          however it exited; with --purge it also removes DIR.
# down    stops every process recorded under DIR/pids, by process id.
# status  lists the recorded processes and whether they still run.
# versions  lists the Kubernetes releases the test bed builds, newest first,
#         and whether each is built.
# restart-apiserver  stops that cluster's kube-apiserver by pid (SIGTERM, then
#         SIGKILL after G seconds, default 5: it stops listening at once but
#         waits up to 60 s for open watches; G=0 is a crash: SIGKILL alone,
#         cutting off the requests in flight), keeps it down N more seconds
#         (default 3), starts it again with the very same command line (ports,
#         certificates, tokens: the kubeconfig stays valid), waits for /readyz
#         and records the new pid. Prints APISERVER_PID, APISERVER_READY_SECONDS
#         and APISERVER_UNAVAILABLE_SECONDS. stop-apiserver and start-apiserver
#         are its two halves; start-apiserver also gives the cluster a fresh
#         controller-manager (one that lost its server for long waits up to a
#         minute before it works again).
#
# Needs the binaries from tests/cluster/build.sh (tests/run builds them).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SELF="$TESTBED_SCRIPT_DIR/testbed.sh"
ADMIN_USER=stepwise-admin
RESTRICTED_USER=stepwise-viewer
READONLY_ROLE=stepwise-test-readonly

usage() { sed -n '2,41s/^# \{0,1\}//p' "$SELF" >&2; exit 2; }

# ---------------------------------------------------------------- processes

# Start a daemon detached from our session (so a Ctrl-C in the caller's
# terminal or the caller closing its pipes does not reach it), with its output
# in DIR/logs/NAME.log, and record its pid in DIR/pids/NAME.pid.
spawn() {
    local dir=$1 name=$2; shift 2
    if [[ -n ${BED_LOCK_FD:-} ]]; then
        # A daemon must not inherit the bed lock (see lock_bed): it would
        # hold it for as long as it runs.
        setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 {BED_LOCK_FD}>&- &
    else
        setsid "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 &
    fi
    echo $! >"$dir/pids/$name.pid"
}

# Serialises whoever changes which processes run in a bed: `down` (also when
# the reaper runs it) and the apiserver stop/start commands. So the reaper
# never tears a bed down halfway through an apiserver restart, and the
# restart refuses to start anything once the bed is down (etcd gone). The
# lock is held until this shell exits.
try_lock_bed() { # try_lock_bed DIR WAIT_SECONDS
    { exec {BED_LOCK_FD}>>"$1/bed.lock"; } 2>/dev/null || return 1
    flock -w "$2" "$BED_LOCK_FD"
}
lock_bed() { try_lock_bed "$1" "$2" || die "cannot take $1/bed.lock within $2 s"; }

# Field N (1-based, as in proc(5)) of /proc/PID/stat. The command name in
# field 2 may hold spaces, so cut everything up to its closing parenthesis.
proc_stat_field() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    awk -v n="$(($2 - 2))" '{ print $n }' <<<"$stat"
}

# True when PID is alive and is one of ours: every process we start has DIR,
# or a path inside it, as one of its arguments; this guards against a pid
# that was recycled for some unrelated process. While a process is in the
# middle of exec(2) its cmdline reads empty for a moment: look again then.
is_ours() {
    local pid=$1 dir=$2 state arg found_args
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        state=$(proc_stat_field "$pid" 3) || return 1
        [[ $state != Z ]] || return 1
        found_args=0
        while IFS= read -r -d '' arg; do
            found_args=1
            [[ $arg == "$dir" || $arg == "$dir"/* ]] && return 0
        done 2>/dev/null </proc/"$pid"/cmdline
        ((found_args)) && return 1
        sleep 0.05
    done
    return 1
}

# True while PID, a process this shell started, has not exited.
child_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(proc_stat_field "$1" 3) || return 1
    [[ $state != Z ]]
}

# Stop the processes recorded in DIR/pids: SIGTERM, then SIGKILL for any that
# are still there after a grace period. Never touches anything else. A pid
# file goes only once its process has gone, so an empty pids/ means stopped.
stop_all() {
    local dir=$1 f pid name deadline alive
    local -a files=()
    [[ -d $dir/pids ]] || return 0
    for f in "$dir"/pids/*.pid; do
        [[ -e $f ]] || continue
        name=$(basename "$f" .pid)
        pid=$(<"$f")
        # The reaper calls us: it must not signal itself, and it removes its
        # own pid file when it is done.
        [[ $name == reaper && $pid == "${TESTBED_REAPER_SELF:-}" ]] && continue
        if is_ours "$pid" "$dir"; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
        files+=("$f")
    done
    # Everything here is disposable: a short grace period is enough.
    deadline=$((SECONDS + 5))
    while :; do
        alive=0
        for f in "${files[@]}"; do
            [[ -e $f ]] || continue
            if is_ours "$(<"$f")" "$dir"; then alive=1; else rm -f "$f"; fi
        done
        ((alive)) || return 0
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
    for f in "${files[@]}"; do
        [[ -e $f ]] || continue
        pid=$(<"$f")
        log "pid $pid ($(basename "$f" .pid)) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    sleep 0.2
    for f in "${files[@]}"; do
        [[ -e $f ]] || continue
        is_ours "$(<"$f")" "$dir" || rm -f "$f"
    done
}

# ------------------------------------------------------------------ helpers

# N free TCP ports on 127.0.0.1, as the kernel hands them out for port 0.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

random_token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# Poll a command until it succeeds. Fails, showing the end of the process's
# log, when the process NAME (pids/NAME.pid, logs/NAME.log) has died or the
# timeout has passed.
wait_for() { # wait_for DIR NAME WHAT TIMEOUT CMD...
    local dir=$1 name=$2 what=$3 timeout=$4; shift 4
    local deadline=$((SECONDS + timeout)) pid
    pid=$(<"$dir/pids/$name.pid")
    until "$@" >/dev/null 2>&1; do
        if ! child_alive "$pid"; then
            log "$name exited while we waited for $what; last lines of $dir/logs/$name.log:"
            tail -n 30 "$dir/logs/$name.log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            log "timed out after ${timeout}s waiting for $what; last lines of $dir/logs/$name.log:"
            tail -n 30 "$dir/logs/$name.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

# curl against an apiserver, verifying its certificate.
api_get() { # api_get CLUSTER_DIR PORT PATH
    curl -fsS --max-time 5 --cacert "$1/certs/apiserver.crt" \
        -H "Authorization: Bearer $(<"$1/admin.token")" "https://127.0.0.1:$2$3"
}

need_binaries() {
    local b missing=()
    for b in "$BIN_DIR/kube-apiserver" "$BIN_DIR/kube-controller-manager" \
        "$TESTBED_ETCD_DIR/etcd" "$TESTBED_TOOLS_DIR/kubectl"; do
        [[ -x $b ]] || missing+=("$b")
    done
    if ((${#missing[@]})); then
        printf '[testbed] ERROR: missing %s\n' "${missing[@]}" >&2
        die "the test bed is not built: run tests/run (or tests/cluster/build.sh) first"
    fi
}

# ---------------------------------------------------------------------- up

start_etcd() {
    local dir=$1 client=$2 peer=$3
    spawn "$dir" etcd "$TESTBED_ETCD_DIR/etcd" \
        --name stepwise-testbed \
        --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "stepwise-testbed=http://127.0.0.1:$peer" \
        --listen-metrics-urls "" \
        --log-level warn --logger zap
}

# Per-cluster credentials: a static token file (admin in system:masters, the
# restricted user in no group) and the service-account signing key.
write_credentials() {
    local cdir=$1 admin restricted
    mkdir -p "$cdir/certs"
    admin=$(random_token)
    restricted=$(random_token)
    printf '%s' "$admin" >"$cdir/admin.token"
    printf '%s' "$restricted" >"$cdir/restricted.token"
    {
        printf '%s,%s,%s,"system:masters"\n' "$admin" "$ADMIN_USER" 1000
        printf '%s,%s,%s\n' "$restricted" "$RESTRICTED_USER" 1001
    } >"$cdir/tokens.csv"
    openssl genrsa -out "$cdir/sa.key" 2048 2>/dev/null
    chmod 600 "$cdir"/*.token "$cdir/tokens.csv" "$cdir/sa.key"
}

start_apiserver() {
    local dir=$1 n=$2 port=$3 etcd_port=$4 cdir="$1/c$2"
    local -a argv=("$BIN_DIR/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --etcd-prefix "/stepwise-testbed/cluster-$n" \
        --bind-address 127.0.0.1 \
        --advertise-address 127.0.0.1 \
        --secure-port "$port" \
        --cert-dir "$cdir/certs" \
        --token-auth-file "$cdir/tokens.csv" \
        --authorization-mode RBAC \
        --service-account-key-file "$cdir/sa.key" \
        --service-account-signing-key-file "$cdir/sa.key" \
        --service-account-issuer "https://kubernetes.default.svc" \
        --service-cluster-ip-range 10.0.0.0/24 \
        --endpoint-reconciler-type none \
        --profiling=false \
        --v 1)
    # restart-apiserver starts it again with exactly this command line.
    printf '%s\0' "${argv[@]}" >"$cdir/apiserver.cmdline"
    spawn "$dir" "apiserver-$n" "${argv[@]}"
}

# Controllers that need a kubelet, a cloud or a real CA, off where the release has them:
# node IPAM and lifecycle, and the publisher of the serving certificate as a
# ClusterTrustBundle (the bed's self-signed certificate is no CA; it would
# retry for ever, filling the log).
controllers_flag() {
    local off=(node-ipam-controller node-lifecycle-controller kube-apiserver-serving-clustertrustbundle-publisher-controller)
    local known flag='*' c
    known=$("$BIN_DIR/kube-controller-manager" --help 2>&1 | grep -A1 -- '--controllers strings' || true)
    for c in "${off[@]}"; do
        [[ $known == *"$c"* ]] && flag+=",-$c"
    done
    printf '%s' "$flag"
}

start_controller_manager() {
    local dir=$1 n=$2 cdir="$1/c$2"
    spawn "$dir" "controller-manager-$n" "$BIN_DIR/kube-controller-manager" \
        --kubeconfig "$cdir/admin.kubeconfig" \
        --leader-elect=false \
        --service-account-private-key-file "$cdir/sa.key" \
        --root-ca-file "$cdir/certs/apiserver.crt" \
        --controllers "$(controllers_flag)" \
        --secure-port 0 \
        --v 1
}

# kubeconfig with one cluster entry per apiserver, two users each, and the
# contexts the tests use. The CA is the apiserver's self-signed certificate
# (its SANs include 127.0.0.1), so TLS is verified, never skipped.
kubeconfig_doc() { # clusters as "NAME PORT CDIR" lines on stdin
    local name port cdir
    local -a rows=()
    while read -r name port cdir; do rows+=("$name $port $cdir"); done
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "preferences: {}"
    echo "current-context: ${rows[0]%% *}"
    echo "clusters:"
    for r in "${rows[@]}"; do
        read -r name port cdir <<<"$r"
        printf -- '- name: %s\n  cluster:\n    server: https://127.0.0.1:%s\n    certificate-authority-data: %s\n' \
            "$name" "$port" "$(base64 -w0 <"$cdir/certs/apiserver.crt")"
    done
    echo "users:"
    for r in "${rows[@]}"; do
        read -r name port cdir <<<"$r"
        printf -- '- name: %s-admin\n  user:\n    token: %s\n' "$name" "$(<"$cdir/admin.token")"
        printf -- '- name: %s-restricted\n  user:\n    token: %s\n' "$name" "$(<"$cdir/restricted.token")"
    done
    echo "contexts:"
    for r in "${rows[@]}"; do
        read -r name port cdir <<<"$r"
        printf -- '- name: %s\n  context:\n    cluster: %s\n    user: %s-admin\n    namespace: default\n' "$name" "$name" "$name"
        printf -- '- name: %s-restricted\n  context:\n    cluster: %s\n    user: %s-restricted\n    namespace: default\n' "$name" "$name" "$name"
    done
}

# The restricted user may read everything and change nothing.
apply_rbac() {
    local kubeconfig=$1 context=$2
    "$TESTBED_TOOLS_DIR/kubectl" --kubeconfig "$kubeconfig" --context "$context" apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: $READONLY_ROLE
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["get", "list", "watch"]
- nonResourceURLs: ["*"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $READONLY_ROLE
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: $READONLY_ROLE
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: $RESTRICTED_USER
EOF
}

# The controller-manager is up once its service-account controller has made
# the `default` ServiceAccount (pods cannot be admitted before that).
controller_manager_ready() {
    api_get "$1" "$2" /api/v1/namespaces/default/serviceaccounts/default >/dev/null
}

cmd_up() {
    local dir="" clusters=1 watch_pid="" purge=0 version=newest
    while (($#)); do
        case $1 in
            --dir) dir=$2; shift ;;
            --clusters) clusters=$2; shift ;;
            --version) version=$2; shift ;;
            --watch-pid) watch_pid=$2; shift ;;
            --purge) purge=1 ;;
            *) echo "unknown argument to up: $1" >&2; usage ;;
        esac
        shift
    done
    [[ $clusters == 1 || $clusters == 2 ]] || die "--clusters must be 1 or 2"
    local k8s_version
    k8s_version=$(testbed_resolve_version "$version") ||
        die "no Kubernetes release '$version' in the test bed; it builds: ${TESTBED_K8S_VERSIONS[*]}"
    BIN_DIR=$(testbed_bin_dir "$k8s_version")
    need_binaries
    [[ -n $dir ]] || dir=$(mktemp -d "${TMPDIR:-/tmp}/stepwise-testbed.XXXXXX")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ ! -e $dir/pids || -z $(ls -A "$dir/pids") ]] || die "$dir already has a running test bed (use down first)"
    mkdir -p "$dir/pids" "$dir/logs"

    local t0; t0=$(now_ms)
    # The reaper starts first, so that whatever happens to us or to the
    # watched process from here on, everything recorded in pids/ is stopped.
    if [[ -n $watch_pid ]]; then
        local -a reap=("$SELF" reap --dir "$dir" --pid "$watch_pid" --up-pid "$$")
        ((purge)) && reap+=(--purge)
        spawn "$dir" reaper bash "${reap[@]}"
    fi
    # Anything failing from here on tears down what was started.
    # The logs stay for a post-mortem; the etcd data goes.
    trap 'log "up failed; stopping what was started (logs in $dir/logs)"; stop_all "$dir"; rm -rf "$dir/etcd"' ERR
    trap 'log "interrupted; stopping what was started"; stop_all "$dir"; rm -rf "$dir/etcd"; exit 130' INT TERM
    set -E

    local -a ports
    read -r -a ports <<<"$(free_ports $((2 + clusters)))"
    local etcd_client=${ports[0]} etcd_peer=${ports[1]}
    start_etcd "$dir" "$etcd_client" "$etcd_peer"

    local n names=() api_ports=()
    for ((n = 1; n <= clusters; n++)); do
        write_credentials "$dir/c$n"
        api_ports[n]=${ports[$((1 + n))]}
        if ((n == 1)); then names[n]=stepwise-test; else names[n]=stepwise-test-$n; fi
    done
    wait_for "$dir" etcd "etcd /health" 30 curl -fsS "http://127.0.0.1:$etcd_client/health"

    for ((n = 1; n <= clusters; n++)); do
        start_apiserver "$dir" "$n" "${api_ports[n]}" "$etcd_client"
    done
    for ((n = 1; n <= clusters; n++)); do
        wait_for "$dir" "apiserver-$n" "its certificate" 60 test -s "$dir/c$n/certs/apiserver.crt"
        wait_for "$dir" "apiserver-$n" "/readyz" 90 api_get "$dir/c$n" "${api_ports[n]}" /readyz
    done

    for ((n = 1; n <= clusters; n++)); do
        printf '%s %s %s\n' "${names[n]}" "${api_ports[n]}" "$dir/c$n" | kubeconfig_doc >"$dir/c$n/admin.kubeconfig"
    done
    for ((n = 1; n <= clusters; n++)); do
        printf '%s %s %s\n' "${names[n]}" "${api_ports[n]}" "$dir/c$n"
    done | kubeconfig_doc >"$dir/kubeconfig"
    chmod 600 "$dir/kubeconfig" "$dir"/c*/admin.kubeconfig

    for ((n = 1; n <= clusters; n++)); do
        apply_rbac "$dir/kubeconfig" "${names[n]}"
        start_controller_manager "$dir" "$n"
    done
    for ((n = 1; n <= clusters; n++)); do
        wait_for "$dir" "controller-manager-$n" "the default ServiceAccount" 60 \
            controller_manager_ready "$dir/c$n" "${api_ports[n]}"
    done

    trap - ERR INT TERM

    {
        echo "TESTBED_DIR=$dir"
        echo "KUBECONFIG=$dir/kubeconfig"
        echo "TESTBED_CLUSTERS=$clusters"
        echo "TESTBED_K8S_VERSION=$k8s_version"
        echo "TESTBED_CONTEXT=${names[1]}"
        echo "TESTBED_CONTEXT_RESTRICTED=${names[1]}-restricted"
        echo "TESTBED_SERVER=https://127.0.0.1:${api_ports[1]}"
        if ((clusters == 2)); then
            echo "TESTBED_CONTEXT_2=${names[2]}"
            echo "TESTBED_CONTEXT_2_RESTRICTED=${names[2]}-restricted"
            echo "TESTBED_SERVER_2=https://127.0.0.1:${api_ports[2]}"
        fi
        echo "TESTBED_KUBECTL=$TESTBED_TOOLS_DIR/kubectl"
        echo "TESTBED_HELM=$TESTBED_TOOLS_DIR/helm"
        echo "TESTBED_STANDINS=$TESTBED_REPO_DIR/tests/standins"
        echo "TESTBED_READY_SECONDS=$(elapsed "$t0" | tr -d s)"
    } >"$dir/testbed.env"
    log "$clusters cluster(s) of Kubernetes $k8s_version ready in $(elapsed "$t0") (dir $dir)"
    # tests/run collects these to print a summary.
    if [[ -n ${STEPWISE_TESTBED_TIMINGS:-} ]]; then
        printf '%s cluster(s) of %s ready in %ss\n' "$clusters" "$k8s_version" "$(grep '^TESTBED_READY_SECONDS=' "$dir/testbed.env" | cut -d= -f2)" \
            >>"$STEPWISE_TESTBED_TIMINGS"
    fi
    cat "$dir/testbed.env"
}

# ------------------------------------------------------ apiserver restarts

# Stops cluster N's apiserver by its recorded pid and removes the pid file
# once it has gone (as stop_all does). The command line to start it again is
# in DIR/cN/apiserver.cmdline (written by `up`; for a bed started before
# that existed it is copied from /proc here).
apiserver_stop() { # apiserver_stop DIR N GRACE_SECONDS
    local dir=$1 n=$2 name="apiserver-$2" cdir="$1/c$2" grace=$3 pidfile pid deadline
    pidfile="$dir/pids/$name.pid"
    if [[ ! -e $pidfile ]]; then
        log "$name is not running (no $pidfile)"
        return 0
    fi
    pid=$(<"$pidfile")
    if ! is_ours "$pid" "$dir"; then
        log "$name (pid $pid) had already gone"
        rm -f "$pidfile"
        return 0
    fi
    [[ -s $cdir/apiserver.cmdline ]] || cat "/proc/$pid/cmdline" >"$cdir/apiserver.cmdline"
    if ((grace > 0)); then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$(($(now_ms) + grace * 1000))
        while is_ours "$pid" "$dir" && (($(now_ms) < deadline)); do sleep 0.1; done
    fi
    if is_ours "$pid" "$dir"; then
        if ((grace > 0)); then
            log "$name (pid $pid) still there ${grace}s after SIGTERM; sending SIGKILL"
        else
            log "$name (pid $pid): SIGKILL, as in a crash"
        fi
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while is_ours "$pid" "$dir" && ((SECONDS < deadline)); do sleep 0.1; done
        ! is_ours "$pid" "$dir" || die "$name (pid $pid) survived SIGKILL"
    fi
    rm -f "$pidfile"
    log "$name (pid $pid) stopped"
}

# Starts cluster N's apiserver again with its recorded command line (same
# ports, certificates, tokens and etcd prefix, so every kubeconfig stays
# valid), records the new pid and waits for /readyz.
apiserver_start() { # apiserver_start DIR N
    local dir=$1 n=$2 name="apiserver-$2" cdir="$1/c$2" port="" i
    local -a argv=()
    [[ -s $cdir/apiserver.cmdline ]] || die "no recorded command line for $name ($cdir/apiserver.cmdline)"
    if [[ -e $dir/pids/$name.pid ]] && is_ours "$(<"$dir/pids/$name.pid")" "$dir"; then
        die "$name is already running (pid $(<"$dir/pids/$name.pid"))"
    fi
    # Never start anything in a bed that `down` has taken apart.
    if ! [[ -e $dir/pids/etcd.pid ]] || ! is_ours "$(<"$dir/pids/etcd.pid")" "$dir"; then
        die "the test bed in $dir is not running (its etcd has gone)"
    fi
    mapfile -d '' -t argv <"$cdir/apiserver.cmdline"
    for ((i = 0; i < ${#argv[@]}; i++)); do
        case ${argv[i]} in
            --secure-port) port=${argv[i + 1]:-} ;;
            --secure-port=*) port=${argv[i]#*=} ;;
        esac
    done
    [[ $port =~ ^[0-9]+$ ]] || die "no --secure-port in $cdir/apiserver.cmdline"
    # No signal may come between the fork and the pid file: the process
    # would run unrecorded, out of reach of `down`.
    trap '' INT HUP TERM
    spawn "$dir" "$name" "${argv[@]}"
    trap - INT HUP TERM
    log "$name started again (pid $(<"$dir/pids/$name.pid"), port $port)"
    wait_for "$dir" "$name" "/readyz" 90 api_get "$cdir" "$port" /readyz
    echo "APISERVER_PID=$(<"$dir/pids/$name.pid")"
}

# Replaces cluster N's controller-manager with a fresh one of the same
# command line. One that lost its apiserver for long backs off for up to a
# minute before it watches again (rollouts and namespace deletions stall
# meanwhile); a fresh one works at once.
controller_manager_renew() { # controller_manager_renew DIR N
    local dir=$1 name="controller-manager-$2" pidfile pid deadline
    local -a argv=()
    pidfile="$dir/pids/$name.pid"
    [[ -e $pidfile ]] || return 0
    pid=$(<"$pidfile")
    is_ours "$pid" "$dir" || return 0
    mapfile -d '' -t argv <"/proc/$pid/cmdline"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while is_ours "$pid" "$dir" && ((SECONDS < deadline)); do sleep 0.1; done
    if is_ours "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
    trap '' INT HUP TERM
    spawn "$dir" "$name" "${argv[@]}"
    trap - INT HUP TERM
    log "$name renewed (pid $(<"$pidfile"))"
}

cmd_apiserver() { # cmd_apiserver stop|start|restart ARGS...
    local action=$1 dir="" n=1 down=3 grace=5 t0 t1
    shift
    while (($#)); do
        case $1 in
            --dir) dir=$2; shift ;;
            --cluster) n=$2; shift ;;
            --down-seconds)
                [[ $action == restart ]] || { echo "--down-seconds is for restart-apiserver" >&2; usage; }
                down=$2; shift ;;
            --grace-seconds)
                [[ $action != start ]] || { echo "--grace-seconds is for stop/restart-apiserver" >&2; usage; }
                grace=$2; shift ;;
            *) echo "unknown argument to $action-apiserver: $1" >&2; usage ;;
        esac
        shift
    done
    [[ -n $dir ]] || die "$action-apiserver needs --dir"
    [[ $n == 1 || $n == 2 ]] || die "--cluster must be 1 or 2"
    [[ $down =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--down-seconds must be a number of seconds"
    [[ $grace =~ ^[0-9]+$ ]] || die "--grace-seconds must be a whole number of seconds"
    [[ -d $dir/c$n ]] || die "$dir has no cluster $n"
    dir=$(cd "$dir" && pwd)
    lock_bed "$dir" 60
    t0=$(now_ms)
    if [[ $action != start ]]; then apiserver_stop "$dir" "$n" "$grace"; fi
    if [[ $action == restart ]]; then sleep "$down"; fi
    t1=$(now_ms)
    if [[ $action != stop ]]; then
        apiserver_start "$dir" "$n"
        echo "APISERVER_READY_SECONDS=$(elapsed "$t1" | tr -d s)"
    fi
    # After a stop of any length the controllers start afresh; a restart's
    # few seconds leave them as a real cluster's would be.
    if [[ $action == start ]]; then controller_manager_renew "$dir" "$n"; fi
    if [[ $action == restart ]]; then
        echo "APISERVER_UNAVAILABLE_SECONDS=$(elapsed "$t0" | tr -d s)"
        log "apiserver-$n restarted: unavailable for $(elapsed "$t0")"
    fi
}

# ------------------------------------------------------------- down, reap

cmd_down() {
    local dir="" purge=0
    while (($#)); do
        case $1 in
            --dir) dir=$2; shift ;;
            --purge) purge=1 ;;
            *) echo "unknown argument to down: $1" >&2; usage ;;
        esac
        shift
    done
    [[ -n $dir ]] || die "down needs --dir"
    [[ -d $dir ]] || { log "$dir does not exist; nothing to stop"; return 0; }
    dir=$(cd "$dir" && pwd)
    # Let an apiserver restart in progress finish first (it is bounded: at
    # most 90 s for /readyz); stopping without the lock beats not stopping.
    try_lock_bed "$dir" 180 || log "could not take $dir/bed.lock; stopping anyway"
    stop_all "$dir"
    rm -rf "$dir/etcd"
    local left
    left=$(find "$dir/pids" -name '*.pid' ! -name reaper.pid 2>/dev/null | wc -l)
    if ((left > 0)); then
        log "some processes of $dir could not be stopped; keeping the directory"
    elif ((purge)); then
        rm -rf "$dir"
    fi
    log "test bed in $dir stopped"
}

cmd_status() {
    local dir=${2:-}
    [[ ${1:-} == --dir && -n $dir ]] || usage
    local f pid state
    for f in "$dir"/pids/*.pid; do
        [[ -e $f ]] || continue
        pid=$(<"$f")
        if is_ours "$pid" "$dir"; then state=running; else state=gone; fi
        printf '%-24s %-8s %s\n' "$(basename "$f" .pid)" "$pid" "$state"
    done
}

cmd_versions() {
    local v state
    for v in "${TESTBED_K8S_VERSIONS[@]}"; do
        if [[ -f $(testbed_bin_dir "$v")/.complete ]]; then state=built; else state="not built"; fi
        printf '%-10s %s\n' "$v" "$state"
    done
}

# Runs detached. Waits until the watched process has gone (or turned zombie,
# or its pid was reused by a process with another start time), then until the
# `up` that started us has finished (so nothing is spawned behind our back),
# then tears the test bed down. Ignores SIGINT/SIGHUP so that a Ctrl-C cannot
# skip the cleanup.
cmd_reap() {
    local dir="" pid="" up_pid="" purge=()
    while (($#)); do
        case $1 in
            --dir) dir=$2; shift ;;
            --pid) pid=$2; shift ;;
            --up-pid) up_pid=$2; shift ;;
            --purge) purge=(--purge) ;;
            *) echo "unknown argument to reap: $1" >&2; exit 2 ;;
        esac
        shift
    done
    trap '' INT HUP
    local start
    start=$(proc_stat_field "$pid" 22) || start=""
    while [[ -n $start ]]; do
        [[ $(proc_stat_field "$pid" 3) != Z ]] || break
        [[ $(proc_stat_field "$pid" 22) == "$start" ]] || break
        sleep 0.5
    done
    if [[ -n $up_pid ]]; then
        local deadline=$((SECONDS + 300))
        while [[ -e /proc/$up_pid ]] && is_up_process "$up_pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
    fi
    log "watched process $pid is gone; tearing down $dir"
    TESTBED_REAPER_SELF=$$ cmd_down --dir "$dir" "${purge[@]}"
    rm -f "$dir/pids/reaper.pid"
}

# True while PID is still a `testbed.sh up` process.
is_up_process() {
    local arg seen_self=0
    while IFS= read -r -d '' arg; do
        [[ $arg == *testbed.sh ]] && seen_self=1
        if ((seen_self)) && [[ $arg == up ]]; then return 0; fi
    done 2>/dev/null </proc/"$1"/cmdline
    return 1
}

main() {
    (($#)) || usage
    local cmd=$1; shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        versions) cmd_versions ;;
        reap) cmd_reap "$@" ;;
        restart-apiserver) cmd_apiserver restart "$@" ;;
        stop-apiserver) cmd_apiserver stop "$@" ;;
        start-apiserver) cmd_apiserver start "$@" ;;
        -h | --help | help) usage ;;
        *) echo "unknown command: $cmd" >&2; usage ;;
    esac
}

main "$@"
