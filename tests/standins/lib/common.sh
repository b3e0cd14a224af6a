# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared by the vendor-CLI stand-ins in tests/standins/. Sourced, not run.
#
# The stand-ins act on a real (test) cluster through real kubectl and helm:
#   kubectl  $STEPWISE_KUBECTL, else the test bed's cached copy
#   helm     $STEPWISE_HELM, else the test bed's cached copy
#   cluster  $KUBECONFIG (or the CLI's own --kubeconfig flag where the real
#            one has it) and always the kubeconfig's current context: like
#            the real CLIs, none of them takes a kube context by flag or
#            environment, so whoever starts them decides the cluster through
#            the kubeconfig alone
# Every action is recorded (see standin_record).

STANDIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STANDIN_CHARTS="$STANDIN_DIR/../fixtures/charts"
STANDIN_TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/stepwise-testbed/tools"
STANDIN_KUBECTL="${STEPWISE_KUBECTL:-$STANDIN_TOOLS/kubectl}"
STANDIN_HELM="${STEPWISE_HELM:-$STANDIN_TOOLS/helm}"
STANDIN_KUBECONFIG="${KUBECONFIG:-}"
# ConfigMap that mirrors the log file inside the cluster, one key per action;
# keys are nanosecond timestamps so sorting them gives the order of events.
STANDIN_LOG_CONFIGMAP=stepwise-standin-log
STANDIN_LOG_NAMESPACE="${STEPWISE_STANDIN_NAMESPACE:-default}"

# One vendor fact (tests/fixtures/vendor/PRODUCT.json), a list one item a line:
# standin_fact PRODUCT KEY[.KEY...]. A missing fact stops the stand-in.
standin_fact() {
    python3 "$STANDIN_DIR/lib/facts.py" "$1" "$2" || standin_fail "no vendor fact $2 for $1"
}

standin_fail() { printf '%s: %s\n' "$STANDIN_NAME" "$*" >&2; exit 1; }

# Unknown input must never be ignored: print the usage text and exit 2.
standin_usage_error() {
    printf '%s: %s\n\n' "$STANDIN_NAME" "$*" >&2
    standin_usage >&2
    exit 2
}

standin_kubectl() {
    [[ -x $STANDIN_KUBECTL ]] || standin_fail "kubectl not found at $STANDIN_KUBECTL (run tests/run, or set STEPWISE_KUBECTL)"
    local -a args=()
    [[ -z $STANDIN_KUBECONFIG ]] || args+=(--kubeconfig "$STANDIN_KUBECONFIG")
    "$STANDIN_KUBECTL" "${args[@]}" "$@"
}

standin_helm() {
    [[ -x $STANDIN_HELM ]] || standin_fail "helm not found at $STANDIN_HELM (run tests/run, or set STEPWISE_HELM)"
    "$STANDIN_HELM" "$@"
}

# Escape a string for a JSON string literal (the characters our lines can
# contain: backslash, quote, control characters as spaces).
standin_json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/ }
    s=${s//$'\t'/ }
    printf '"%s"' "$s"
}

# Record one action: a line in $STEPWISE_STANDIN_LOG (when set) and a key in
# the ConfigMap $STANDIN_LOG_CONFIGMAP. Set STEPWISE_STANDIN_RECORD_IN_CLUSTER=0
# to record in the file only (no cluster at hand).
standin_record() {
    local line="$STANDIN_NAME $*"
    if [[ -n ${STEPWISE_STANDIN_LOG:-} ]]; then
        printf '%s\n' "$line" >>"$STEPWISE_STANDIN_LOG"
    fi
    [[ ${STEPWISE_STANDIN_RECORD_IN_CLUSTER:-1} != 0 ]] || return 0
    local key patch
    key="$(date +%s%N)-$$"
    patch="{\"data\":{\"$key\":$(standin_json_string "$line")}}"
    if ! standin_kubectl -n "$STANDIN_LOG_NAMESPACE" get configmap "$STANDIN_LOG_CONFIGMAP" >/dev/null 2>&1; then
        standin_kubectl -n "$STANDIN_LOG_NAMESPACE" create configmap "$STANDIN_LOG_CONFIGMAP" >/dev/null 2>&1 || true
    fi
    standin_kubectl -n "$STANDIN_LOG_NAMESPACE" patch configmap "$STANDIN_LOG_CONFIGMAP" \
        --type merge -p "$patch" >/dev/null ||
        standin_fail "could not record '$line' in configmap $STANDIN_LOG_NAMESPACE/$STANDIN_LOG_CONFIGMAP"
}

# Ask before destroying something unless -y was given. No terminal and no
# answer means no.
standin_confirm() {
    local question=$1 answer=""
    printf '%s [y/N] ' "$question" >&2
    read -r answer || true
    [[ $answer == y || $answer == Y || $answer == yes ]]
}
