# Shared by the benchmark entry points (benches/*/run.sh): messages, the
# prerequisites, the scratch folder with its cleanup, and bench executables.
# The sourcing script sets REPO and BED_SCRIPT first.
# shellcheck shell=bash

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# GNU time gives the client's wall time, CPU time and peak RSS; python3 runs
# the drivers.
bench_prerequisites() {
    if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
        say "installing GNU time"
        as_root apt-get install -y time >/dev/null 2>&1 || {
            as_root apt-get update >/dev/null && as_root apt-get install -y time >/dev/null
        }
    fi
    command -v python3 >/dev/null || die "python3 is needed"
}

# Whether the cache holds what `testbed.sh up` starts: its newest release's
# kube-apiserver and kube-controller-manager, etcd, kubectl and helm.
bed_built() (
    # shellcheck source-path=SCRIPTDIR source=../tests/cluster/lib.sh
    source "$REPO/tests/cluster/lib.sh"
    bin=$(testbed_bin_dir "${TESTBED_K8S_VERSIONS[0]}")
    [[ -f $bin/.complete && -x $bin/kube-apiserver && -x $bin/kube-controller-manager &&
        -x $TESTBED_ETCD_DIR/etcd && -x $TESTBED_TOOLS_DIR/kubectl && -x $TESTBED_TOOLS_DIR/helm ]]
)

# Builds the test bed's binaries when the cache lacks them (needs Go).
ensure_bed_built() {
    bed_built && return 0
    say "the test bed is not built; running tests/cluster/build.sh --version newest (minutes cold; needs Go)"
    "$REPO/tests/cluster/install-deps.sh"
    "$REPO/tests/cluster/build.sh" --version newest
    bed_built || die "tests/cluster/build.sh did not leave the test bed's binaries in the cache"
}

# Sets `work` (the given folder, or a new one named after PREFIX) and `bed`,
# and tears the bed down and removes `work` (unless keep=1) however the script
# ends.
scratch_folder() {
    local prefix=$1
    if [[ -z $work ]]; then
        work=$(mktemp -d "/tmp/$prefix.XXXXXX")
    else
        mkdir -p "$work"
        work=$(cd "$work" && pwd)
    fi
    bed="$work/bed"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -d $bed ]]; then
        say "tearing the test bed down"
        "$BED_SCRIPT" down --dir "$bed" --purge || true
    fi
    if ((${keep:-0})); then say "kept $work"; else rm -rf "$work"; fi
    exit "$rc"
}

# The executable of one bench target (built if needed); the build's messages
# go to $work/bench-build.log.
bench_exe() {
    (cd "$REPO" && cargo bench --bench "$1" --no-run --message-format=json 2>>"$work/bench-build.log") |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])
' "$1"
}
