#!/usr/bin/env bash
# End-to-end benchmark of the NGINX Service Mesh manual upgrade 1.6.0 -> 1.7.0 on
# the real test bed (not a test: nothing here is timed by `cargo test`). Starts
# its own test bed on 127.0.0.1 and always tears it down. For each repetition,
# alternating which goes first, each side starts from a fresh world (1.6.0
# deployed with non-default settings, N custom resources of the six kinds,
# meshed Deployments; not measured) and is timed end to end:
#   stepwise  stepwise run nginx-service-mesh --to 1.7.0 --procedure manual-meshctl
#             --yes --confirm nginx-mesh --set ...   (backup proof on)
#   vendor    the vendor's procedure scripted as written: six kubectl get -o yaml,
#             nginx-meshctl remove, nginx-meshctl deploy, kubectl create -f,
#             kubectl rollout restart per meshed namespace
# Every side is checked afterwards: all N objects back and unchanged, 1.7.0 with
# the old settings, workloads re-rolled. Writes docs/benchmarks-upgrade.md and
# README.md's upgrade table (phases, window without policies, CPU profile).
#
# Usage:
#   benches/upgrade/run.sh [--quick] [--sizes 30000] [--reps R] [--namespaces M]
#                          [--out FILE] [--work DIR] [--keep]
#
#   (default)   N=30,000, 3 repetitions of each side
#   --quick     N=3,000, 3 repetitions
#   --sizes     comma-separated N (multiples of 6)
#   --out FILE  the Markdown report (default docs/benchmarks-upgrade.md; "-" for
#               none); with that default, README.md's upgrade block gets its table
#   --work DIR  scratch folder (default a new /tmp/stepwise-upgrade-bench.XXXXXX,
#               removed afterwards unless --keep); samples in DIR/results.json
#   --binaries DIR  take stepwise, backup_restore_seed and upgrade_world from DIR
#               (e.g. the bin/ of a kept earlier run) instead of building them
#
# Needs: the test bed's binaries (tests/cluster/build.sh; built here if missing,
# which needs Go), cargo, python3; GNU time is apt-installed if missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BED_SCRIPT="$REPO/tests/cluster/testbed.sh"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"

usage() { sed -n '2,31s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"

quick=0 sizes=30000 namespaces=20 reps=3 out="" work="" keep=0 binaries=""
doc_args=() # the arguments that change what is measured, for the report
while (($#)); do
    case $1 in
        --work | --out | --binaries) ;;
        --keep) ;;
        *) doc_args+=("$1"); [[ $1 == --quick || $# -lt 2 ]] || doc_args+=("$2") ;;
    esac
    case $1 in
        --quick) quick=1 ;;
        --sizes) sizes=$2; shift ;;
        --namespaces) namespaces=$2; shift ;;
        --reps) reps=$2; shift ;;
        --out) out=$2; shift ;;
        --work) work=$2; shift ;;
        --binaries) binaries=$2; shift ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift
done
if ((quick)); then sizes=3000; fi
out=${out:-$REPO/docs/benchmarks-upgrade.md}

# ------------------------------------------------------------ prerequisites

bench_prerequisites
ensure_bed_built
scratch_folder stepwise-upgrade-bench

# --------------------------------------------------------------- binaries

mkdir -p "$work/bin"
if [[ -n $binaries ]]; then
    for b in stepwise backup_restore_seed upgrade_world; do
        [[ -x $binaries/$b ]] || die "--binaries: no $b in $binaries"
        [[ $binaries/$b -ef $work/bin/$b ]] || cp "$binaries/$b" "$work/bin/$b"
    done
else
    say "building stepwise (release) and the helpers; waits for the cargo lock if another build holds it"
    (cd "$REPO" && cargo build --release --quiet)
    seed=$(bench_exe backup_restore_seed) || seed=""
    world=$(bench_exe upgrade_world) || world=""
    if [[ -z $seed || -z $world ]]; then
        cat "$work/bench-build.log" >&2
        die "building the helpers failed"
    fi
    # Private copies: another build in the same tree must not swap a binary mid-run.
    cp "$TARGET_DIR/release/stepwise" "$work/bin/stepwise"
    cp "$seed" "$work/bin/backup_restore_seed"
    cp "$world" "$work/bin/upgrade_world"
fi

# --------------------------------------------------------------- the bed

say "starting the test bed in $bed"
"$BED_SCRIPT" up --dir "$bed" --watch-pid $$ --purge >"$work/testbed.out"

# ------------------------------------------------------------------ run

args=(--env "$bed/testbed.env" --repo "$REPO" --stepwise "$work/bin/stepwise"
    --seed "$work/bin/backup_restore_seed" --world "$work/bin/upgrade_world" --work "$work"
    --sizes "$sizes" --namespaces "$namespaces" --reps "$reps"
    --results "$work/results.json" --doc-args="${doc_args[*]:-}")
if [[ $out != - ]]; then
    mkdir -p "$(dirname "$out")"
    args+=(--out "$out")
fi
# The README shows the table of the report in docs/, so it follows only that one.
[[ $out == "$REPO/docs/benchmarks-upgrade.md" ]] && args+=(--readme "$REPO/README.md")
python3 "$HERE/upgrade.py" "${args[@]}"
