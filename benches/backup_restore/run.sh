#!/usr/bin/env bash
# Backup/restore benchmark of stepwise on the real test bed (not a test: nothing
# here is timed by `cargo test`). Starts its own test bed on 127.0.0.1 and always
# tears it down, seeds N custom resources of the six NGINX Service Mesh kinds,
# and compares, alternating the sides, each at least 3 times (medians):
#   backup     stepwise backup          vs the six `kubectl get KIND -A -o yaml > file`
#   proof      stepwise backup --check of each stepwise backup, right after it
#   restore    stepwise restore         vs `kubectl create -f` of those six files
#              and the raw create loop of the same objects at concurrency 8/32/64
#   rehearsal  stepwise restore --dry-run vs the real restore
# Every restore is verified object by object. Prints a table and writes
# docs/benchmarks.md (date, machine, N, M, how to reproduce).
#
# Usage:
#   benches/backup_restore/run.sh [--quick] [--only backup] [--sizes 3000,30000]
#                                 [--namespaces M] [--reps R] [--ceiling-reps R]
#                                 [--restore-concurrency C] [--wipe etcd|crd]
#                                 [--out FILE] [--work DIR] [--keep]
#
#   --quick     N=3,000 only, 3 repetitions (a few minutes)
#   (default)   N=3,000 and 30,000, 3 repetitions (about 50 minutes on 2 cores)
#   --only backup  the backup and proof phases only (minutes, not the restores'
#               40); the report goes to docs/benchmarks-proof.md unless --out
#   --out FILE  the Markdown report (default docs/benchmarks.md; "-" for none);
#               with that default, README.md's benchmarks block gets its table too
#   --work DIR  scratch folder (default a new /tmp/stepwise-bench.XXXXXX, removed
#               afterwards unless --keep); the samples are in DIR/results.json
#   --wipe      how objects are removed between restores: one etcd range delete
#               per kind (default, seconds) or deleting and re-creating the CRDs
#               (minutes at 30,000 objects)
#
# Needs: the test bed's binaries of its newest Kubernetes release, etcd and
# kubectl (tests/cluster/build.sh; built here if missing, which needs Go),
# cargo, python3; GNU time is apt-installed if missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BED_SCRIPT="$REPO/tests/cluster/testbed.sh"

usage() { sed -n '2,31s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"

quick=0 only="" sizes="3000,30000" namespaces=20 reps=3 ceiling_reps="" restore_c="" wipe=etcd
out="" work="" keep=0
doc_args=() # the arguments that change what is measured, for the report
while (($#)); do
    case $1 in
        --work | --out) ;;
        --keep) ;;
        *) doc_args+=("$1"); [[ $1 == --quick || $# -lt 2 ]] || doc_args+=("$2") ;;
    esac
    case $1 in
        --quick) quick=1 ;;
        --only) only=$2; shift ;;
        --sizes) sizes=$2; shift ;;
        --namespaces) namespaces=$2; shift ;;
        --reps) reps=$2; shift ;;
        --ceiling-reps) ceiling_reps=$2; shift ;;
        --restore-concurrency) restore_c=$2; shift ;;
        --wipe) wipe=$2; shift ;;
        --out) out=$2; shift ;;
        --work) work=$2; shift ;;
        --keep) keep=1 ;;
        -h | --help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift
done
if ((quick)); then sizes=3000; fi
ceiling_reps=${ceiling_reps:-$reps}
case $only in
    "") out=${out:-$REPO/docs/benchmarks.md} ;;
    # A partial run must not replace the full report.
    backup) out=${out:-$REPO/docs/benchmarks-proof.md} ;;
    *) echo "--only takes: backup" >&2; usage ;;
esac

# ------------------------------------------------------------ prerequisites

bench_prerequisites
ensure_bed_built
# Scratch folder, removed at exit (with the test bed) unless --keep.
scratch_folder stepwise-bench

# --------------------------------------------------------------- binaries

say "building stepwise (release) and the benchmark helper; waits for the cargo lock if another build holds it"
(cd "$REPO" && cargo build --release --quiet)
helper=$(bench_exe backup_restore_seed) || { cat "$work/bench-build.log" >&2; die "building the helper failed"; }
[[ -n $helper ]] || { cat "$work/bench-build.log" >&2; die "the helper was not built"; }
# Private copies: another build in the same tree must not swap a binary mid-run.
mkdir -p "$work/bin"
cp "${CARGO_TARGET_DIR:-$REPO/target}/release/stepwise" "$work/bin/stepwise"
cp "$helper" "$work/bin/backup_restore_seed"

# --------------------------------------------------------------- the bed

say "starting the test bed in $bed"
"$BED_SCRIPT" up --dir "$bed" --watch-pid $$ --purge >"$work/testbed.out"

# ------------------------------------------------------------------ run

args=(--env "$bed/testbed.env" --repo "$REPO" --stepwise "$work/bin/stepwise"
    --helper "$work/bin/backup_restore_seed" --work "$work" --sizes "$sizes"
    --namespaces "$namespaces" --reps "$reps" --ceiling-reps "$ceiling_reps" --wipe "$wipe"
    --results "$work/results.json" --doc-args="${doc_args[*]:-}")
((quick)) && args+=(--quick)
[[ -n $only ]] && args+=(--only "$only")
[[ -n $restore_c ]] && args+=(--restore-concurrency "$restore_c")
if [[ $out != - ]]; then
    mkdir -p "$(dirname "$out")"
    args+=(--out "$out")
fi
# The README shows the table of the full report in docs/, so it follows only that one.
[[ -z $only && $out == "$REPO/docs/benchmarks.md" ]] && args+=(--readme "$REPO/README.md")
python3 "$HERE/bench.py" "${args[@]}"
