#!/usr/bin/env bash
# The sandbox: try stepwise on a local cluster without owning one.
#
#   tests/sandbox/sandbox.sh           bring it up, open the wizard on the manual
#                                      NGINX Service Mesh 1.6.0 -> 1.7.0 upgrade,
#                                      and stop everything when the wizard ends
#   tests/sandbox/sandbox.sh up        bring it up and leave it running
#   tests/sandbox/sandbox.sh wizard    open the wizard on a running sandbox
#   tests/sandbox/sandbox.sh env       print exports for using it from a shell
#   tests/sandbox/sandbox.sh down      stop it
#
# "Up" builds (and caches) the test bed exactly as tests/run does, builds
# stepwise and the sandbox's cluster side (cargo --features sandbox), starts a
# kube-apiserver + etcd + controller-manager on loopback with the node
# stand-in, deploys NGINX Service Mesh 1.6.0 with the nginx-meshctl stand-in,
# and adds 300 custom resources and three workloads with the sidecar.
#
# Environment: STEPWISE_SANDBOX_DIR (default $XDG_RUNTIME_DIR or /tmp, then
# stepwise-sandbox-UID) holds everything, and is removed by `down`;
# STEPWISE_SANDBOX_PER_KIND (default 50) custom resources of each kind.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${STEPWISE_SANDBOX_DIR:-${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/stepwise-sandbox-$(id -u)}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/debug"
ENV_FILE="$DIR/sandbox.env"

say() { printf '[sandbox] %s\n' "$*" >&2; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }

# PIDs of processes whose arguments mention the sandbox directory.
processes_under() {
    local p arg
    for p in /proc/[0-9]*; do
        [[ -r $p/cmdline ]] || continue
        while IFS= read -r -d '' arg; do
            if [[ $arg == "$DIR"/* || $arg == "$DIR" ]]; then
                basename "$p"
                break
            fi
        done 2>/dev/null <"$p/cmdline" || true
    done
}

daemon_pid() {
    [[ -f $DIR/daemon.pid ]] && cat "$DIR/daemon.pid"
}

running() {
    local pid
    pid=$(daemon_pid) || return 1
    kill -0 "$pid" 2>/dev/null
}

build() {
    command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
    command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs)"
    say "setting up the test bed (installs and builds on first use, about a quarter of an hour on two cores; then cached)"
    "$REPO/tests/cluster/build.sh" || die "setting up the test bed failed (see above)"
    say "building stepwise and the sandbox"
    (cd "$REPO" && cargo build --features sandbox --bin stepwise --bin stepwise-sandbox) ||
        die "cargo build failed (see above)"
}

# up [EXIT_WITH_PID]: the cluster side runs in the background; with a PID it
# stops by itself once that process has gone, whatever happened to it.
up() {
    if running; then
        say "the sandbox in $DIR is already up (stop it with: $0 down)"
        return 0
    fi
    build
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    local -a args=(--dir "$DIR" --per-kind "${STEPWISE_SANDBOX_PER_KIND:-50}")
    [[ -z ${1:-} ]] || args+=(--exit-with "$1")
    say "starting the sandbox in $DIR (its log: $DIR/sandbox.log)"
    # Its own session, so a Ctrl-C meant for the wizard does not reach it.
    STEPWISE_TESTBED_ROOT="$DIR" setsid "$TARGET/stepwise-sandbox" "${args[@]}" \
        </dev/null >"$DIR/sandbox.log" 2>&1 &
    echo $! >"$DIR/daemon.pid"
    local shown=0 line
    while [[ ! -f $ENV_FILE ]]; do
        running || { tail -n 30 "$DIR/sandbox.log" >&2; die "the sandbox stopped while starting (log above)"; }
        # Pass its progress lines on as they come.
        while IFS= read -r line; do
            [[ $line == stepwise-sandbox:* ]] && say "${line#stepwise-sandbox: }"
        done < <(tail -n +"$((shown + 1))" "$DIR/sandbox.log")
        shown=$(wc -l <"$DIR/sandbox.log")
        sleep 0.5
    done
    say "up: NGINX Service Mesh 1.6.0 with custom resources and sidecar workloads"
}

load_env() {
    [[ -f $ENV_FILE ]] && running || die "no sandbox is running in $DIR; start one with: $0 up"
    # shellcheck source=/dev/null
    source "$ENV_FILE"
}

# The stepwise command line for the sandbox, one argument per line.
stepwise_args() {
    printf '%s\n' --kubeconfig "$SANDBOX_KUBECONFIG" --context "$SANDBOX_CONTEXT" --state-dir "$DIR/state"
}

wizard() {
    load_env
    local -a args
    mapfile -t args < <(stepwise_args)
    cat >&2 <<EOF
[sandbox] Opening the wizard on the manual upgrade to 1.7.0. Confirm each step;
[sandbox] the removal asks you to type the namespace: nginx-mesh.
[sandbox] q leaves (the session can be resumed with: $0 env, then stepwise resume).
EOF
    sleep "${STEPWISE_SANDBOX_PAUSE:-2}"
    # The stand-ins and the cached helm/kubectl come first on PATH.
    PATH="$SANDBOX_STANDINS:$SANDBOX_TOOLS:$TARGET:$PATH" \
        STEPWISE_KUBECTL="$SANDBOX_KUBECTL" STEPWISE_HELM="$SANDBOX_HELM" \
        "$TARGET/stepwise" -v "${args[@]}" run nginx-service-mesh --to 1.7.0 --procedure manual-meshctl \
        --set "current_meshctl=$SANDBOX_CURRENT_MESHCTL" \
        --set "target_meshctl=$SANDBOX_TARGET_MESHCTL" \
        --set "meshed_namespaces=$SANDBOX_MESHED_NAMESPACES"
}

print_env() {
    load_env
    cat <<EOF
export KUBECONFIG='$SANDBOX_KUBECONFIG'
export STEPWISE_STATE_DIR='$DIR/state'
export STEPWISE_KUBECTL='$SANDBOX_KUBECTL' STEPWISE_HELM='$SANDBOX_HELM'
export PATH='$SANDBOX_STANDINS:$SANDBOX_TOOLS:$TARGET':"\$PATH"
# then, for example:
#   stepwise run nginx-service-mesh --to 1.7.0 --procedure manual-meshctl \\
#     --set current_meshctl=$SANDBOX_CURRENT_MESHCTL \\
#     --set target_meshctl=$SANDBOX_TARGET_MESHCTL --set meshed_namespaces=$SANDBOX_MESHED_NAMESPACES
EOF
}

# Stops the cluster side, waits for the test bed's reaper, and removes the
# directory; fails if anything of the sandbox still runs after that.
down() {
    [[ -d $DIR ]] || { say "no sandbox in $DIR"; return 0; }
    local pid deadline leftover=()
    if pid=$(daemon_pid) && kill -0 "$pid" 2>/dev/null; then
        say "stopping the sandbox"
        kill -TERM "$pid" 2>/dev/null || true
    fi
    deadline=$((SECONDS + 60))
    while :; do
        mapfile -t leftover < <(processes_under)
        running || ((${#leftover[@]} > 0)) || break
        ((SECONDS < deadline)) || break
        sleep 0.3
    done
    if ((${#leftover[@]})); then
        for pid in "${leftover[@]}"; do
            say "still running, stopping it: pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
    rm -rf "$DIR"
    say "stopped; nothing of the sandbox is left running"
    ((${#leftover[@]} == 0)) || exit 1
}

main() {
    case ${1:-} in
        "")
            trap 'down' EXIT
            trap 'exit 130' INT TERM HUP
            up "$$"
            local rc=0
            wizard || rc=$?
            exit "$rc"
            ;;
        up) up ;;
        wizard) wizard ;;
        env) print_env ;;
        down) down ;;
        -h | --help | help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
        *) die "unknown command '$1' (up, wizard, env, down; none opens the wizard)" ;;
    esac
}

main "$@"
