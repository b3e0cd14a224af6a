#!/usr/bin/env python3
"""Upgrade benchmark driver: run by run.sh on a running test bed. Python 3
standard library only; the sampling, verification and profile helpers are
benches/backup_restore/bench.py's, imported.

For every size N and repetition, alternating which side goes first, each side
starts from the same world (not measured): NGINX Service Mesh 1.6.0 deployed by
its nginx-meshctl with non-default settings, N custom resources of the six kinds
(benches/backup_restore_seed.rs `seed`), the meshed Deployment `web` in app-a
and app-b. Then, measured end to end under GNU time:
  * stepwise: `stepwise run nginx-service-mesh --to 1.7.0 --procedure
    manual-meshctl --yes --confirm nginx-mesh --set ...`; its phases come from
    the session's steps.json (each step's started_at / ended_at);
  * vendor:   the NGINX Service Mesh manual upgrade procedure as written, one bash
    script that notes the time before each command: six `kubectl get -A -o
    yaml`, `nginx-meshctl remove` (1.6.0), `nginx-meshctl deploy` (1.7.0, same
    settings), `kubectl create -f` of the six files, `kubectl rollout restart`
    of each meshed namespace's Deployment.
After each side every object is compared with the dump taken after the first
seeding (any loss stops the run), the mesh must run 1.7.0 with its settings,
and both Deployments must have been re-rolled.
The CPU time of kube-apiserver, etcd, kube-controller-manager, the helper that
plays node and finalizer controller, and the whole machine, and etcd's WAL fsync
counters are sampled every second during each side, so every phase gets its
own profile.
"""

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("backup_restore_bench", os.path.join(HERE, "../backup_restore/bench.py"))
br = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(br)

Failed, log, run, sh, fmt_s, NPROC = br.Failed, br.log, br.run, br.sh, br.fmt_s, br.NPROC
KINDS, RESOURCES = br.KINDS, br.RESOURCES

TARGET_SPEEDUP = 2.0
TARGET_WINDOW = 3.0
MESH_NS = "nginx-mesh"
MESHED = ["app-a", "app-b"]
# Deploy settings that differ from every default, as the journey uses: the
# redeploy must keep them.
SETTINGS = [
    "--mtls-mode=strict",
    "--access-control-mode=deny",
    "--disable-auto-inject",
    "--enabled-namespaces=app-a,app-b",
    "--registry-server=registry.example:5000/nsm",
]
# Phases in report order; each side fills the ones it has.
PHASES = ["startup", "check", "backup", "proof", "removal", "waits", "deploy", "restore", "re-roll", "between"]
PHASE_NAMES = {
    "startup": "start-up (detection, plan, settings)",
    "check": "check of the target nginx-meshctl",
    "backup": "backup",
    "proof": "proof of the backup",
    "removal": "removal (`nginx-meshctl remove`)",
    "waits": "waits (CRDs, namespace, control plane)",
    "deploy": "deploy (`nginx-meshctl deploy`)",
    "restore": "restore",
    "re-roll": "re-roll of the meshed workloads",
    "between": "between steps and exit",
}
STEP_PHASE = {
    "check-target-cli": "check",
    "backup-resources": "backup",
    "remove-mesh": "removal",
    "wait-crds-gone": "waits",
    "wait-namespace-gone": "waits",
    "deploy": "deploy",
    "wait-control-plane": "waits",
    "restore-resources": "restore",
    "reroll": "re-roll",
}


# ------------------------------------------------------------------ sampling


class Sampler:
    """Samples the bed's processes' CPU time, the machine's busy time and etcd's
    fsync counters every `period` seconds in a thread, with wall-clock times."""

    def __init__(self, bed, period=1.0):
        self.bed, self.period, self.samples = bed, period, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _take(self):
        s = self.bed.cpu_seconds()
        s.update(self.bed.etcd_metrics())
        s["t"] = time.time()
        self.samples.append(s)

    def _loop(self):
        while not self._stop.is_set():
            self._take()
            self._stop.wait(self.period)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._take()

    def at(self, t):
        """Every counter at time t, linearly interpolated between samples."""
        ss = self.samples
        if t <= ss[0]["t"]:
            return ss[0]
        for a, b in zip(ss, ss[1:]):
            if a["t"] <= t <= b["t"]:
                f = (t - a["t"]) / ((b["t"] - a["t"]) or 1)
                return {k: a[k] + f * (b[k] - a[k]) for k in a}
        return ss[-1]

    def between(self, t0, t1):
        a, b = self.at(t0), self.at(t1)
        return {k: b[k] - a[k] for k in a}


COUNTERS = ("apiserver", "etcd", "controller", "world", "machine_busy", "fsync_s", "fsyncs")


def phase_profile(sampler, spans):
    """CPU seconds per process and fsync seconds of each phase, from its spans."""
    out = {}
    for phase, ranges in spans.items():
        acc = {k: 0.0 for k in COUNTERS}
        for t0, t1 in ranges:
            d = sampler.between(t0, t1)
            for k in COUNTERS:
                acc[k] += d[k]
        out[phase] = acc
    return out


# ------------------------------------------------------------------ the world


class World:
    def __init__(self, bed, args, work):
        self.bed, self.args, self.work = bed, args, work
        env = read_env(args.env)
        self.standins = env["TESTBED_STANDINS"]
        self.helm = env["TESTBED_HELM"]
        self.bin = os.path.join(work, "bin")
        os.makedirs(self.bin, exist_ok=True)
        self.old = self.meshctl_at("1.6.0")
        self.new = self.meshctl_at("1.7.0")
        tools = os.path.dirname(bed.kubectl_bin)
        # What the journeys give every program (tests/it/support TestCluster::env):
        # the stand-ins first on PATH, the bed's kubectl and helm.
        self.env = dict(os.environ)
        self.env.update(
            KUBECONFIG=bed.kubeconfig,
            PATH=os.pathsep.join([self.standins, tools, os.environ.get("PATH", "")]),
            STEPWISE_KUBECTL=bed.kubectl_bin,
            STEPWISE_HELM=self.helm,
            NO_COLOR="1",
        )
        # The stand-ins act on the kubeconfig's current context: make sure it is the bed's.
        run(bed.kubectl("config", "use-context", bed.context))
        self.server = None

    def meshctl_at(self, version):
        """nginx-meshctl of one release, as tests/it/seed/mod.rs `meshctl_at` writes it."""
        path = os.path.join(self.bin, f"nginx-meshctl-{version}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"#!/usr/bin/env bash\nNGINX_MESHCTL_VERSION={version} exec {self.standins}/nginx-meshctl \"$@\"\n")
        os.chmod(path, 0o755)
        return path

    def start(self):
        log_file = open(os.path.join(self.work, "world.log"), "w", encoding="utf-8")
        self.server = subprocess.Popen(
            [self.args.world, "serve", *self.bed.target()], stdin=subprocess.PIPE, stdout=log_file, stderr=log_file
        )
        self.bed.pids["world"] = self.server.pid

    def stop(self):
        if self.server and self.server.poll() is None:
            self.server.stdin.close()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()

    def alive(self):
        if self.server.poll() is not None:
            raise Failed(f"the node/finalizer helper exited ({self.server.returncode}); see {self.work}/world.log")

    def sh(self, argv, timeout=900):
        r = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout)
        if r.returncode != 0:
            raise Failed(f"{' '.join(argv[:5])}... exited {r.returncode}: {(r.stdout + r.stderr).strip()[-2000:]}")
        return r.stdout

    def reset(self, n):
        """Any mesh and objects gone; 1.6.0 deployed; N objects seeded; the meshed
        Deployments running. Returns the seconds it took (not measured)."""
        self.alive()
        t0 = time.perf_counter()
        bed = self.bed
        # The objects go in one etcd range delete per kind (the watch cache
        # follows), so that deleting the CRDs is quick.
        for plural, group, _ in KINDS:
            key = bed.kind_prefix(plural, group)
            bed.etcd("/v3/kv/deleterange", {"key": br.b64(key), "range_end": br.b64(br.prefix_end(key))})
        self.sh(bed.kubectl("delete", "namespace", MESH_NS, *MESHED, "--ignore-not-found", "--wait=true",
                            "--timeout=300s"))
        self.sh(bed.kubectl("delete", "crd", *RESOURCES, "--ignore-not-found", "--wait=true", "--timeout=300s"))
        self.sh(bed.kubectl("delete", "configmap", "-n", "default", "stepwise-standin-log", "--ignore-not-found"))
        self.sh([self.old, "--namespace", MESH_NS, "deploy", *SETTINGS])
        seeded = json.loads(self.sh([self.args.seed, "seed", *bed.target(), "--objects", str(n),
                                     "--namespaces", str(self.args.namespaces)]))
        self.sh([self.args.world, "meshed-apps", *bed.target(), *MESHED])
        for ns in MESHED:
            self.sh(bed.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=120s"))
        counts = self.counts()
        if any(c != n // len(KINDS) for c in counts.values()):
            raise Failed(f"after seeding {n}: {counts}")
        return time.perf_counter() - t0, seeded

    def counts(self):
        """Objects of each kind, as the API server lists them."""
        out = {}
        for r in RESOURCES:
            out[r] = len(run(self.bed.kubectl("get", r, "-A", "-o", "name", "--chunk-size=5000")).split())
        return out

    def check_after(self, n, reference, what):
        """Every object back and unchanged, 1.7.0 with the old settings, both
        Deployments re-rolled. Raises Failed otherwise."""
        counts = self.counts()
        lost = {r: n // len(KINDS) - c for r, c in counts.items() if c != n // len(KINDS)}
        if lost:
            raise Failed(f"after {what}: objects missing (kind: how many short) {lost}")
        check, _ = br.verify(self.bed, reference, what)
        image = run(self.bed.kubectl("get", "deployment", "nginx-mesh-api", "-n", MESH_NS, "-o",
                                     "jsonpath={.spec.template.spec.containers[0].image}"))
        if not image.endswith(":1.7.0"):
            raise Failed(f"after {what}: the control plane runs {image}, not 1.7.0")
        flags = run(self.bed.kubectl("get", "deployment", "nginx-mesh-api", "-n", MESH_NS, "-o",
                                     "jsonpath={.metadata.annotations.stepwise-test/deploy-flags}"))
        for setting in ("--mtls-mode=strict", "--access-control-mode=deny", "--enabled-namespaces=app-a,app-b"):
            if setting not in flags:
                raise Failed(f"after {what}: the mesh was deployed without {setting}: {flags}")
        for ns in MESHED:
            ann = run(self.bed.kubectl("get", "deployment", "web", "-n", ns, "-o",
                                       "jsonpath={.spec.template.metadata.annotations}"))
            if "kubectl.kubernetes.io/restartedAt" not in ann:
                raise Failed(f"after {what}: {ns}/web was not re-rolled")
        return {"counts": counts, "check": check}


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


# ------------------------------------------------------------------ the sides


def stepwise_argv(world, state):
    bed = world.bed
    return [world.args.stepwise, *bed.target(), "--state-dir", state, "run", "nginx-service-mesh", "--to", "1.7.0",
            "--procedure", "manual-meshctl", "--yes", "--confirm", MESH_NS,
            "--set", f"current_meshctl={world.old}", "--set", f"target_meshctl={world.new}",
            "--set", f"meshed_namespaces={','.join(MESHED)}"]


def vendor_script(world, d):
    """The vendor's manual upgrade as written, with a time mark before each command."""
    bed = world.bed
    gets = "\n".join(f"kubectl get {r} -A -o yaml > {r.split('.')[0]}.yaml" for r in RESOURCES)
    files = " ".join(f"-f {r.split('.')[0]}.yaml" for r in RESOURCES)
    rerolls = "\n".join(f"kubectl rollout restart deployment/web -n {ns}" for ns in MESHED)
    return f"""#!/usr/bin/env bash
# NGINX Service Mesh 1.6.0 -> 1.7.0, the vendor's manual upgrade as written.
set -euo pipefail
cd {sh(d)}
mark() {{ printf '%s %s\\n' "$1" "$EPOCHREALTIME" >>phases.txt; }}
kubectl() {{ {sh(bed.kubectl_bin)} --kubeconfig {sh(bed.kubeconfig)} --context {sh(bed.context)} "$@"; }}
mark backup
{gets}
mark removal
{sh(world.old)} --namespace {MESH_NS} remove --yes
mark deploy
{sh(world.new)} --namespace {MESH_NS} deploy {' '.join(SETTINGS)}
mark restore
kubectl create {files} >/dev/null
mark re-roll
{rerolls}
mark end
"""


def run_side(world, side, n, rep, reference, reset_s=None):
    """One measured upgrade from a fresh world (reset here unless reset_s says it just was)."""
    bed, work = world.bed, world.work
    d = os.path.join(work, f"n{n}-rep{rep + 1}-{side}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if reset_s is None:
        log(f"N={n} rep {rep + 1}, {side}: resetting the world (1.6.0, {n} objects, meshed apps)")
        reset_s, _ = world.reset(n)
        log(f"  reset in {reset_s:.0f} s (not measured)")
    start_file = os.path.join(d, "started")
    if side == "stepwise":
        state = os.path.join(d, "state")
        argv = stepwise_argv(world, state)
    else:
        script = os.path.join(d, "vendor.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write(vendor_script(world, d))
        argv = ["bash", script]
    # The wall-clock start, for the phases, written just before the command starts.
    wrapped = ["bash", "-c", 'printf %s "$EPOCHREALTIME" >"$0"; exec "$@"', start_file, *argv]
    old_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(world.env)
    try:
        with Sampler(bed) as sampler:
            s = br.measure(bed, f"{side} upgrade", wrapped, work)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    with open(start_file, encoding="utf-8") as f:
        t_start = float(f.read().strip())
    t_end = t_start + s["wall"]
    shutil.copy(os.path.join(work, "last-command.log"), os.path.join(d, "output.log"))
    with open(os.path.join(d, "output.log"), encoding="utf-8", errors="replace") as f:
        output = f.read()
    if side == "stepwise":
        spans, window, steps = stepwise_phases(state, t_start, t_end)
        if "unlocked: backup" not in output:
            raise Failed(f"the removal was not unlocked by the backup's proof; see {d}/output.log")
    else:
        spans, window = vendor_phases(os.path.join(d, "phases.txt"), t_end)
        steps = []
    s.update(side=side, rep=rep, n=n, reset=reset_s, t_start=t_start, steps=steps)
    s["phases"] = {p: sum(b - a for a, b in r) for p, r in spans.items()}
    s["window"] = window[1] - window[0]
    s["profile"] = phase_profile(sampler, spans)
    whole = sampler.between(t_start, t_end)
    s["world_cpu"] = whole["world"]
    s["other_cpu"] -= whole["world"]
    log(f"  {side}: {s['wall']:.1f} s, window without policies {s['window']:.1f} s; "
        + ", ".join(f"{p} {v:.1f}" for p, v in s["phases"].items() if v > 0.05))
    s["verify"] = world.check_after(n, reference, f"the {side} upgrade")
    return s


def stepwise_phases(state, t_start, t_end):
    """Phases from the session's steps.json: each step's started_at and ended_at,
    written by the journal as the step starts and ends. (The transcript's `at`
    is the time a batch of events was written, so a step's start and end can
    share one stamp there.)"""
    sessions = [os.path.join(state, "sessions", x) for x in os.listdir(os.path.join(state, "sessions"))]
    if len(sessions) != 1:
        raise Failed(f"expected one session in {state}, found {len(sessions)}")
    with open(os.path.join(sessions[0], "steps.json"), encoding="utf-8") as f:
        records = json.load(f)

    def ts(x):
        return datetime.datetime.fromisoformat(x.replace("Z", "+00:00")).timestamp()

    spans = {ph: [] for ph in PHASES}
    steps = []
    for r in records:
        if r["state"] != "done" or not r.get("started_at") or not r.get("ended_at"):
            raise Failed(f"step {r['step']} {r.get('item') or ''} is {r['state']}, not done")
        a, b = ts(r["started_at"]), ts(r["ended_at"])
        spans[STEP_PHASE.get(r["step"], "between")].append((a, b))
        steps.append({"id": r["step"] + (f" {r['item']}" if r.get("item") else ""), "seconds": b - a})
    by_id = {}
    for r in records:
        by_id.setdefault(r["step"], []).append((ts(r["started_at"]), ts(r["ended_at"])))
    removal = min(a for a, _ in by_id["remove-mesh"])
    restored = max(b for _, b in by_id["restore-resources"])
    # The gate in front of the removal (src/engine/gate.rs) proves the backup,
    # asks (answered by --yes) and proves again: all of it lies between the
    # backup step's end and the removal step's start.
    backed_up = max(b for _, b in by_id["backup-resources"])
    spans["proof"].append((backed_up, removal))
    first = min(a for rs in by_id.values() for a, _ in rs)
    spans["startup"].append((t_start, first))
    covered = sorted(r for ph, rs in spans.items() for r in rs if ph != "startup")
    t = first
    for a, b in covered:
        if a > t:
            spans["between"].append((t, a))
        t = max(t, b)
    if t_end > t:
        spans["between"].append((t, t_end))
    return spans, (removal, restored), steps


def vendor_phases(path, t_end):
    marks = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, t = line.split()
            marks.append((name, float(t)))
    spans = {ph: [] for ph in PHASES}
    for (name, a), (_, b) in zip(marks, marks[1:]):
        spans[name].append((a, b))
    at = dict(marks)
    spans["between"].append((at["end"], t_end))
    return spans, (at["removal"], at["re-roll"])


# ------------------------------------------------------------------ reporting


def med(samples, f):
    vals = [f(s) for s in samples]
    return statistics.median(vals) if vals else float("nan")


def summarise(res):
    sw = [s for s in res["samples"] if s["side"] == "stepwise"]
    vd = [s for s in res["samples"] if s["side"] == "vendor"]
    out = {"n": res["n"]}
    out["sw"], out["vd"] = med(sw, lambda s: s["wall"]), med(vd, lambda s: s["wall"])
    out["sw_win"], out["vd_win"] = med(sw, lambda s: s["window"]), med(vd, lambda s: s["window"])
    out["speedup"] = out["vd"] / out["sw"]
    out["window_ratio"] = out["vd_win"] / out["sw_win"]
    for side, ss in (("stepwise", sw), ("vendor", vd)):
        out[side + "_phases"] = {p: med(ss, lambda s, p=p: s["phases"].get(p, 0.0)) for p in PHASES}
        out[side + "_profile"] = profile(ss)
        out[side + "_phase_profile"] = {
            p: {k: med(ss, lambda s, p=p, k=k: s["profile"][p][k]) for k in COUNTERS} for p in PHASES
        }
    return out


def profile(ss):
    def per_wall(key):
        return statistics.median(s[key] / s["wall"] for s in ss)

    return {
        "wall": statistics.median(s["wall"] for s in ss),
        "client": per_wall("client_cpu"), "apiserver": per_wall("apiserver_cpu"), "etcd": per_wall("etcd_cpu"),
        "controller": per_wall("controller_cpu"), "world": per_wall("world_cpu"), "other": per_wall("other_cpu"),
        "busy": per_wall("machine_busy"), "iowait": per_wall("machine_iowait"), "fsync": per_wall("fsync_s"),
        "fsyncs": statistics.median(s["fsyncs"] for s in ss),
        "rss": max(s["rss_mb"] for s in ss),
    }


def verdict(ok):
    return "**met**" if ok else "**missed**"


def phase_rows(s, side):
    """Phases with their median seconds and share of the side's median wall."""
    wall = s["sw"] if side == "stepwise" else s["vd"]
    return [(p, s[side + "_phases"][p], s[side + "_phases"][p] / wall) for p in PHASES
            if s[side + "_phases"][p] > 0.0005]


def why_missed(s):
    """Paragraphs on each missed target, from the phases and the profile."""
    out = []
    swp, vdp = s["stepwise_phases"], s["vendor_phases"]
    diffs = sorted(((vdp[p] - swp[p], p) for p in PHASES), reverse=True)
    gains = ", ".join(f"{PHASE_NAMES[p]} {vdp[p] - swp[p]:+.1f} s" for d, p in diffs if abs(d) >= 0.5)
    if s["speedup"] < TARGET_SPEEDUP:
        need = s["vd"] / TARGET_SPEEDUP
        out.append(
            f"**End to end at N={s['n']:,}: {s['speedup']:.2f}× instead of {TARGET_SPEEDUP:.0f}×** "
            f"({100 * (1 - s['speedup'] / TARGET_SPEEDUP):.0f}% short): stepwise took {fmt_s(s['sw'])}; "
            f"{fmt_s(need)} would have met it, {fmt_s(s['sw'] - need)} less. Time saved (+) or lost (−) by "
            f"stepwise per phase, vendor minus stepwise: {gains or 'none above 0.5 s'}. "
            + profile_sentence(s, "stepwise") + " " + largest_phases(s, "stepwise"))
    if s["window_ratio"] < TARGET_WINDOW:
        need = s["vd_win"] / TARGET_WINDOW
        out.append(
            f"**Window without policies at N={s['n']:,}: {s['window_ratio']:.2f}× shorter instead of "
            f"{TARGET_WINDOW:.0f}×** ({100 * (1 - s['window_ratio'] / TARGET_WINDOW):.0f}% short): stepwise's "
            f"window was {fmt_s(s['sw_win'])}, the procedure's {fmt_s(s['vd_win'])}; {fmt_s(need)} would have "
            f"met it. Within the window stepwise spent: "
            + ", ".join(f"{PHASE_NAMES[p]} {swp[p]:.1f} s" for p in ("removal", "waits", "deploy", "restore")
                        if swp[p] > 0.05)
            + "; the procedure: "
            + ", ".join(f"{PHASE_NAMES[p]} {vdp[p]:.1f} s" for p in ("removal", "deploy", "restore") if vdp[p] > 0.05)
            + ". " + window_profile(s))
    return out


def profile_sentence(s, side):
    p = s[side + "_profile"]
    return (f"Over the whole run the cores were {100 * p['busy'] / NPROC:.0f}% busy: the client (with the "
            f"nginx-meshctl, kubectl and helm it starts) {p['client']:.2f} cores, kube-apiserver "
            f"{p['apiserver']:.2f}, etcd {p['etcd']:.2f}, kube-controller-manager {p['controller']:.2f}, the "
            f"node/finalizer stand-in {p['world']:.2f}, other processes {p['other']:.2f}; etcd was in WAL fsync "
            f"{100 * p['fsync']:.0f}% of the wall time ({br.bottleneck(p)}).")


def largest_phases(s, side):
    rows = sorted(phase_rows(s, side), key=lambda r: -r[1])[:3]
    return "Its largest phases: " + ", ".join(f"{PHASE_NAMES[p]} {v:.1f} s ({100 * sh_:.0f}%)" for p, v, sh_ in rows) + "."


def window_profile(s):
    parts = []
    for p in ("removal", "restore"):
        pp, sec = s["stepwise_phase_profile"][p], s["stepwise_phases"][p]
        if sec <= 0.5:
            continue
        rest = pp["machine_busy"] - pp["apiserver"] - pp["etcd"] - pp["controller"] - pp["world"]
        parts.append(
            f"During stepwise's {p} ({sec:.1f} s): kube-apiserver {pp['apiserver'] / sec:.2f} cores, etcd "
            f"{pp['etcd'] / sec:.2f}, kube-controller-manager {pp['controller'] / sec:.2f}, the stand-in "
            f"{pp['world'] / sec:.2f}, client and everything else {rest / sec:.2f}; machine "
            f"{100 * pp['machine_busy'] / sec / NPROC:.0f}% busy, etcd in fsync {100 * pp['fsync_s'] / sec:.0f}% "
            "of the time.")
    return " ".join(parts)


def markdown(meta, results):
    args = argparse.Namespace(**meta["args"])
    facts, vers = meta["facts"], meta["versions"]
    started = datetime.datetime.fromisoformat(meta["started"])
    finished = datetime.datetime.fromisoformat(meta["finished"])
    sums = [summarise(r) for r in results]
    L = []
    w = L.append
    w("# Benchmark: NGINX Service Mesh manual upgrade, end to end")
    w("")
    w("Generated by `benches/upgrade/run.sh`; do not edit by hand, run it again.")
    w("")
    w(f"* Date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC")
    w(f"* Machine: {facts['nproc']} cores ({facts.get('cpu', '?')}), "
      f"{facts.get('memory_gib', 0):.1f} GiB memory, Linux {facts['kernel']}")
    w(f"* Test bed: {vers['kube-apiserver']} + kube-controller-manager, {vers['etcd']}, "
      f"all on 127.0.0.1 (`tests/cluster/testbed.sh`); kubectl {vers['kubectl']}; the nginx-meshctl "
      "stand-in (`tests/standins/nginx-meshctl`) of 1.6.0 and 1.7.0")
    w(f"* stepwise: `{vers['stepwise']}`, release build, commit {vers['commit']}")
    w(f"* Upgrade: NGINX Service Mesh 1.6.0 → 1.7.0, remove and deploy again, deployed with "
      f"`{' '.join(SETTINGS)}`; meshed Deployments in {', '.join(MESHED)}")
    sizes = ", ".join(f"{s['n']:,}" for s in sums)
    w(f"* Objects: N = {sizes} custom resources of the six kinds (N/6 each) over "
      f"{args.namespaces} namespaces, seeded by `benches/backup_restore_seed.rs`; every 11th carries a finalizer")
    done = min(min(sum(1 for x in r["samples"] if x["side"] == side) for side in ("stepwise", "vendor"))
               for r in results)
    partial = f" (this report holds {done} of each side: the run was cut short)" if done < args.reps else ""
    w(f"* Repetitions: {args.reps} of each side{partial}, alternating which goes first; the tables show medians. "
      "Each side starts from a freshly reset world (not measured)")
    w(f"* Other work on the machine: before each side the driver waited up to {args.quiet_wait:.0f} s for "
      f"processes outside the test bed to use less than {args.quiet_cores} cores")
    w("")
    w("## Results")
    w("")
    w("| N | target | stepwise | vendor procedure, scripted | ratio | |")
    w("| ---: | --- | ---: | ---: | ---: | --- |")
    for s in sums:
        n = f"{s['n']:,}"
        w(f"| {n} | end to end ≥ 2× faster | {fmt_s(s['sw'])} | {fmt_s(s['vd'])} | {s['speedup']:.2f}× | "
          f"{verdict(s['speedup'] >= TARGET_SPEEDUP)} |")
        w(f"| {n} | window without policies ≥ 3× shorter | {fmt_s(s['sw_win'])} | {fmt_s(s['vd_win'])} | "
          f"{s['window_ratio']:.2f}× | {verdict(s['window_ratio'] >= TARGET_WINDOW)} |")
    w("")
    w("The window without policies runs from the start of the removal to the moment the last custom resource "
      "is restored: stepwise's `remove-mesh` step start to its `restore-resources` step end (from the session's "
      "steps.json); in the script, from the start of `nginx-meshctl remove` to the end of `kubectl create -f`. "
      "After every side each of the N objects was compared with the dump taken after seeding (spec, labels, "
      "annotations, finalizers), the control plane had to run 1.7.0 with the settings it was deployed with, and "
      "both Deployments had to carry a restart; all passed, or the run would have stopped.")
    w("")
    missed = [line for s in sums for line in why_missed(s)]
    if missed:
        w("## Why the missed targets were missed")
        w("")
        for line in missed:
            w(line)
            w("")
    for s in sums:
        w(f"## Phases at N={s['n']:,}: share of the wall time")
        w("")
        w("Medians over the repetitions; the shares are of each side's median wall time (so a column need not "
          "add up to exactly 100%).")
        w("")
        w("| phase | stepwise | share | vendor procedure | share |")
        w("| --- | ---: | ---: | ---: | ---: |")
        for p in PHASES:
            a, b = s["stepwise_phases"][p], s["vendor_phases"][p]
            if a <= 0.0005 and b <= 0.0005:
                continue
            cell = lambda v, wall: (f"{v:.2f} s", f"{100 * v / wall:.0f}%") if v > 0.0005 else ("—", "")
            ca, cb = cell(a, s["sw"]), cell(b, s["vd"])
            w(f"| {PHASE_NAMES[p]} | {ca[0]} | {ca[1]} | {cb[0]} | {cb[1]} |")
        w(f"| **whole run** | **{fmt_s(s['sw'])}** | | **{fmt_s(s['vd'])}** | |")
        w("")
    w("## Where the time goes")
    w("")
    w("Medians of CPU time per second of wall time (1.00 = one core busy) over each whole side: the client "
      "(GNU time of stepwise or of the script, with every nginx-meshctl, kubectl and helm they start), "
      "kube-apiserver, etcd and kube-controller-manager (`/proc/PID/stat`), the benchmark's node and finalizer "
      "stand-in, everything else on the machine (`/proc/stat` busy time minus those), and the share of the wall "
      "time etcd spent in WAL fsync.")
    w("")
    w("| N | side | wall | client | apiserver | etcd | controller-mgr | stand-in | other | machine busy | etcd fsync "
      "| fsyncs | client peak RSS | verdict |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for s in sums:
        for side in ("stepwise", "vendor"):
            p = s[side + "_profile"]
            w(f"| {s['n']:,} | {side} | {fmt_s(p['wall'])} | {p['client']:.2f} | {p['apiserver']:.2f} | "
              f"{p['etcd']:.2f} | {p['controller']:.2f} | {p['world']:.2f} | {p['other']:.2f} | "
              f"{100 * p['busy'] / NPROC:.0f}% | {100 * p['fsync']:.0f}% | {p['fsyncs']:.0f} | {p['rss']:.0f} MB | "
              f"{br.bottleneck(p)} |")
    w("")
    w("Per phase (sampled every second, interpolated at the phase bounds; the client cannot be told apart from "
      "other processes here, so \"rest\" is the machine's busy time minus the bed and the stand-in):")
    w("")
    w("| N | side | phase | seconds | apiserver | etcd | controller-mgr | stand-in | rest | machine busy | etcd fsync |")
    w("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in sums:
        for side in ("stepwise", "vendor"):
            for p in PHASES:
                sec = s[side + "_phases"][p]
                if sec < 0.5:
                    continue
                pp = s[side + "_phase_profile"][p]
                rest = pp["machine_busy"] - pp["apiserver"] - pp["etcd"] - pp["controller"] - pp["world"]
                w(f"| {s['n']:,} | {side} | {p} | {sec:.1f} | {pp['apiserver'] / sec:.2f} | {pp['etcd'] / sec:.2f} | "
                  f"{pp['controller'] / sec:.2f} | {pp['world'] / sec:.2f} | {rest / sec:.2f} | "
                  f"{100 * pp['machine_busy'] / sec / NPROC:.0f}% | {100 * pp['fsync_s'] / sec:.0f}% |")
    w("")
    w("## Every sample")
    w("")
    w("<details><summary>all repetitions, in the order they ran</summary>")
    w("")
    w("| N | rep | side | wall | window | client CPU-s | apiserver CPU-s | etcd CPU-s | other CPU-s | reset (not "
      "measured) | stepwise steps |")
    w("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for res in results:
        for s in res["samples"]:
            steps = ", ".join(f"{x['id']} {x['seconds']:.1f}" for x in s["steps"])
            w(f"| {res['n']:,} | {s['rep'] + 1} | {s['side']} | {s['wall']:.1f} | {s['window']:.1f} | "
              f"{s['client_cpu']:.1f} | {s['apiserver_cpu']:.1f} | {s['etcd_cpu']:.1f} | {s['other_cpu']:.1f} | "
              f"{s['reset']:.0f} s | {steps} |")
    w("")
    w("</details>")
    w("")
    w("## Notes")
    w("")
    w("* The scripted procedure runs the vendor's commands as written: six `kubectl get KIND -A -o yaml > "
      "FILE`, `nginx-meshctl remove` (the stand-in of 1.6.0, with `--yes`, its non-interactive flag), "
      "`nginx-meshctl deploy` (1.7.0) with the settings the mesh was deployed with, `kubectl create -f` of the "
      "six files, `kubectl rollout restart deployment/web -n NS` per meshed namespace. `kubectl create -f` took "
      "the `get -o yaml` output unchanged (resourceVersion, uid and creationTimestamp included): the API server "
      "accepted it, so no edit was needed. The vendor's `rollout restart` returns without waiting for the "
      "rollout; stepwise's re-roll waits until each Deployment has rolled out.")
    w("* The test bed has no kubelet: the benchmark's helper (`benches/upgrade_world.rs`) runs the tests' node "
      "stand-in, which makes pods Ready so that rollouts finish, and a finalizer controller that clears the "
      "seeded objects' finalizer while their CRD is being deleted (it lists objects only then). It runs through "
      "both sides; its CPU is the column \"stand-in\".")
    w("* The machine is shared: other builds and test beds may have run during the measurements; the column "
      "\"other\" shows how many cores they took.")
    w("")
    w("## Reproduce")
    w("")
    w("```sh")
    w("tests/cluster/build.sh             # once: the test bed's binaries (cached)")
    w("benches/upgrade/run.sh             # N=30,000, 3 repetitions of each side")
    w("benches/upgrade/run.sh --quick     # N=3,000, 3 repetitions")
    w("```")
    w("")
    w(f"This run: `benches/upgrade/run.sh {' '.join(args.argv_for_doc)}`".rstrip() + ".")
    w("")
    w("How it works: `benches/upgrade/README.md`. Every sample is in `results.json` of the run's scratch folder "
      "(kept with `--work DIR --keep`); `upgrade.py --render DIR/results.json --out FILE` writes this report "
      "again from it.")
    w("")
    return "\n".join(L), sums


README_BEGIN = "<!-- upgrade-benchmark:begin -->"
README_END = "<!-- upgrade-benchmark:end -->"


def print_table(sums):
    print()
    print(f"{'N':>7}  {'stepwise':>9} {'vendor':>9} {'x':>6}   {'window sw':>9} {'vendor':>9} {'x':>6}")
    for s in sums:
        print(f"{s['n']:>7}  {s['sw']:>8.1f}s {s['vd']:>8.1f}s {s['speedup']:>6.2f}   {s['sw_win']:>8.1f}s "
              f"{s['vd_win']:>8.1f}s {s['window_ratio']:>6.2f}")
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", help="the test bed's testbed.env")
    p.add_argument("--repo")
    p.add_argument("--stepwise", help="the release binary")
    p.add_argument("--seed", help="the backup_restore_seed bench binary")
    p.add_argument("--world", help="the upgrade_world bench binary")
    p.add_argument("--work")
    p.add_argument("--render", metavar="RESULTS_JSON", help="only write the report again from a results.json")
    p.add_argument("--sizes", default="30000")
    p.add_argument("--namespaces", type=int, default=20)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--quiet-wait", type=float, default=15.0)
    p.add_argument("--quiet-cores", type=float, default=0.25)
    p.add_argument("--out")
    p.add_argument("--readme")
    p.add_argument("--results")
    p.add_argument("--doc-args", default="")
    args = p.parse_args()
    args.argv_for_doc = args.doc_args.split()
    if args.render:
        with open(args.render, encoding="utf-8") as f:
            saved = json.load(f)
        meta, results = saved["meta"], saved["sizes"]
    else:
        if not all((args.env, args.repo, args.stepwise, args.seed, args.world, args.work)):
            p.error("--env, --repo, --stepwise, --seed, --world and --work are needed to run")
        br.QUIET.update(wait=args.quiet_wait, cores=args.quiet_cores)
        if args.reps < 3:
            log("fewer than 3 repetitions: the medians are not worth much")
        bed = br.Bed(args.env, args.repo)
        meta = {
            "args": {k: getattr(args, k) for k in ("reps", "namespaces", "argv_for_doc", "quiet_wait", "quiet_cores")},
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "facts": br.machine_facts(),
            "versions": br.versions(bed, args),
        }
        world = World(bed, args, args.work)
        world.start()
        results = []
        try:
            for n in [int(x) for x in args.sizes.split(",") if x]:
                if n % len(KINDS):
                    raise Failed(f"N={n} is not a multiple of {len(KINDS)}")
                res = {"n": n, "samples": []}
                results.append(res)
                reference = None
                for rep in range(args.reps):
                    order = ["stepwise", "vendor"] if rep % 2 == 0 else ["vendor", "stepwise"]
                    for side in order:
                        reset_s = None
                        if reference is None:
                            # The reference dump: the world as the first reset leaves it.
                            log(f"N={n}: resetting the world (1.6.0, {n} objects, meshed apps)")
                            reset_s, _ = world.reset(n)
                            reference, _ = br.dump(bed)
                            if len(reference) != n:
                                raise Failed(f"{len(reference)} objects after seeding, not {n}")
                        s = run_side(world, side, n, rep, reference, reset_s)
                        s.pop("output", None)
                        res["samples"].append(s)
                        meta["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
                        if args.results:
                            with open(args.results, "w", encoding="utf-8") as f:
                                json.dump({"meta": meta, "sizes": results}, f, indent=1)
        finally:
            world.stop()
    # A run cut short (see --render) reports the sizes both sides reached.
    results = [r for r in results if all(any(x["side"] == side for x in r["samples"]) for side in ("stepwise", "vendor"))]
    if not results:
        raise Failed("no size has a sample of both sides yet")
    doc, sums = markdown(meta, results)
    print_table(sums)
    br.write_outputs(args, doc, README_BEGIN, README_END)


if __name__ == "__main__":
    br.run_main(main)
