#!/usr/bin/env python3
"""Backup/restore benchmark driver: run by run.sh on a running test bed. Python 3
standard library only.

For every size N it seeds N objects of the six NGINX Service Mesh kinds, then
  * backup:  `stepwise backup` vs the six `kubectl get KIND -A -o yaml > file`,
             alternating which goes first, R times;
  * proof:   `stepwise backup --check` of each stepwise backup, right after it
             (the proof a destructive step waits for), against that backup's time;
  * restore: `stepwise restore` vs `kubectl create -f` of the six kubectl files vs
             the raw create loop (the ceiling) at concurrency 8, 32 and 64, in an
             order rotated every repetition, R times, each from an empty store,
             each stepwise/kubectl restore verified object by object against the
             dump taken after seeding;
  * rehearsal: `stepwise restore --dry-run` of a backup of the live objects, right
             after each verified stepwise restore, checked to change nothing.
With --only backup, the backup and proof phases alone.
Every measured command runs under GNU time (wall, client CPU, peak RSS) while the
CPU time of kube-apiserver, etcd and kube-controller-manager, the machine's busy
time and etcd's WAL fsync counters are sampled before and after it.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
import urllib.request

KINDS = [
    ("trafficsplits", "split.smi-spec.io", "TrafficSplit"),
    ("traffictargets", "access.smi-spec.io", "TrafficTarget"),
    ("httproutegroups", "specs.smi-spec.io", "HTTPRouteGroup"),
    ("tcproutes", "specs.smi-spec.io", "TCPRoute"),
    ("ratelimits", "specs.smi.nginx.com", "RateLimit"),
    ("circuitbreakers", "specs.smi.nginx.com", "CircuitBreaker"),
]
RESOURCES = [f"{p}.{g}" for p, g, _ in KINDS]
CEILING_CONCURRENCY = [8, 32, 64]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NPROC = os.cpu_count() or 1

# Targets, from the project's issue.
TARGET_BACKUP_SPEEDUP = 5.0
TARGET_BACKUP_RSS_MB = 80.0
TARGET_RESTORE_SPEEDUP = 4.0
TARGET_CEILING_SHARE = 0.75
TARGET_REHEARSAL_RATIO = 1.5
TARGET_PROOF_SHARE = 0.10


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    pass


# ------------------------------------------------------------------ the bed


class Bed:
    def __init__(self, env_file, repo):
        env = {}
        with open(env_file, encoding="utf-8") as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    env[k] = v
        self.dir = env["TESTBED_DIR"]
        self.kubeconfig = env["KUBECONFIG"]
        self.context = env["TESTBED_CONTEXT"]
        self.server = env["TESTBED_SERVER"]
        self.kubectl_bin = env["TESTBED_KUBECTL"]
        self.repo = repo
        self.crds = os.path.join(repo, "tests/fixtures/charts/nginx-service-mesh/crds")
        self.pids = {}
        for key, name in (("apiserver", "apiserver-1"), ("etcd", "etcd"), ("controller", "controller-manager-1")):
            with open(os.path.join(self.dir, "pids", f"{name}.pid"), encoding="utf-8") as f:
                self.pids[key] = int(f.read().strip())
        argv = self.cmdline(self.pids["etcd"])
        self.etcd_url = argv[argv.index("--listen-client-urls") + 1].split(",")[0]
        argv = self.cmdline(self.pids["apiserver"])
        self.etcd_prefix = argv[argv.index("--etcd-prefix") + 1].rstrip("/")
        for url in (self.server, self.etcd_url):
            host = urllib.parse.urlparse(url).hostname
            if host != "127.0.0.1":
                raise Failed(f"{url} is not on loopback; the benchmark only talks to 127.0.0.1")

    @staticmethod
    def cmdline(pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]

    def kubectl(self, *args):
        return [self.kubectl_bin, "--kubeconfig", self.kubeconfig, "--context", self.context, *args]

    def target(self):
        return ["--kubeconfig", self.kubeconfig, "--context", self.context]

    # --- samples

    def cpu_seconds(self):
        out = {}
        for name, pid in self.pids.items():
            try:
                with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
                out[name] = (int(fields[11]) + int(fields[12])) / CLK_TCK
            except OSError:
                out[name] = float("nan")
        with open("/proc/stat", encoding="utf-8") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        idle, iowait = cpu[3], cpu[4]
        out["machine_busy"] = (sum(cpu[:8]) - idle - iowait) / CLK_TCK
        out["machine_iowait"] = iowait / CLK_TCK
        return out

    def etcd_metrics(self):
        wanted = {
            "etcd_disk_wal_fsync_duration_seconds_sum": "fsync_s",
            "etcd_disk_wal_fsync_duration_seconds_count": "fsyncs",
            "etcd_disk_backend_commit_duration_seconds_sum": "commit_s",
        }
        out = {v: float("nan") for v in wanted.values()}
        try:
            with urllib.request.urlopen(self.etcd_url + "/metrics", timeout=10) as r:
                for line in r.read().decode().splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[0] in wanted:
                        out[wanted[parts[0]]] = float(parts[1])
        except OSError as e:
            log(f"etcd metrics unavailable: {e}")
        return out

    # --- etcd v3 JSON gateway

    def etcd(self, path, body):
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.etcd_url + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.load(r)

    def kind_prefix(self, plural, group):
        return f"{self.etcd_prefix}/{group}/{plural}/"

    def stored_count(self):
        total = 0
        for plural, group, _ in KINDS:
            key = self.kind_prefix(plural, group)
            r = self.etcd("/v3/kv/range", {"key": b64(key), "range_end": b64(prefix_end(key)), "count_only": True})
            total += int(r.get("count", 0))
        return total


def b64(s):
    return base64.b64encode(s.encode()).decode()


def prefix_end(key):
    return key[:-1] + chr(ord(key[-1]) + 1)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failed(f"{' '.join(argv[:4])}... exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


# ------------------------------------------------------------ measurement


QUIET = {"wait": 15.0, "cores": 0.25}


def wait_quiet(bed):
    """Waits (at most QUIET["wait"] seconds) until processes other than the test
    bed use less than QUIET["cores"] cores, so others' builds disturb less.
    Returns the seconds waited and the last load seen."""
    waited, other = 0.0, 0.0
    while True:
        a = bed.cpu_seconds()
        time.sleep(1.0)
        b = bed.cpu_seconds()
        other = (b["machine_busy"] - a["machine_busy"]) - sum(b[k] - a[k] for k in ("apiserver", "etcd", "controller"))
        waited += 1.0
        if other < QUIET["cores"] or waited >= QUIET["wait"]:
            return waited, other


def measure(bed, label, argv, work, allow_fail=False):
    """Runs argv under GNU time and returns wall, client CPU and RSS, and what the
    control plane and the machine spent meanwhile."""
    waited, other_before = wait_quiet(bed)
    tfile = os.path.join(work, "time.out")
    out_file = os.path.join(work, "last-command.log")
    cpu0, m0 = bed.cpu_seconds(), bed.etcd_metrics()
    t0 = time.perf_counter()
    with open(out_file, "w", encoding="utf-8") as out:
        rc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tfile, *argv], stdout=out, stderr=subprocess.STDOUT
        ).returncode
    wall = time.perf_counter() - t0
    cpu1, m1 = bed.cpu_seconds(), bed.etcd_metrics()
    with open(tfile, encoding="utf-8") as f:
        last = [ln for ln in f.read().splitlines() if ln.strip()][-1].split()
    with open(out_file, encoding="utf-8", errors="replace") as f:
        output = f.read()
    if rc != 0 and not allow_fail:
        raise Failed(f"{label} exited {rc}:\n{output[-3000:]}")
    s = {
        "label": label,
        "rc": rc,
        "wall": wall,
        "rss_mb": int(last[1]) / 1024,
        "client_cpu": float(last[2]) + float(last[3]),
    }
    for k in ("apiserver", "etcd", "controller", "machine_busy", "machine_iowait"):
        s[k + "_cpu" if k in ("apiserver", "etcd", "controller") else k] = cpu1[k] - cpu0[k]
    for k in ("fsync_s", "fsyncs", "commit_s"):
        s[k] = m1[k] - m0[k]
    s["other_cpu"] = s["machine_busy"] - s["client_cpu"] - s["apiserver_cpu"] - s["etcd_cpu"] - s["controller_cpu"]
    s["other_before"] = other_before
    s["quiet_waited"] = waited
    s["output"] = output[-4000:]
    log(
        f"  {label}: {wall:.2f} s, client {s['client_cpu']:.2f} CPU-s, rss {s['rss_mb']:.1f} MB, "
        f"apiserver {s['apiserver_cpu']:.2f}, etcd {s['etcd_cpu']:.2f}, other {s['other_cpu']:.2f} CPU-s "
        f"(waited {waited:.0f} s for others below {QUIET['cores']} cores: {other_before:.2f})"
    )
    return s


# ------------------------------------------------------- state and checks


def install_crds(bed):
    run(bed.kubectl("apply", "-f", bed.crds))
    run(bed.kubectl("wait", "--for=condition=Established", "--timeout=120s", "-f", bed.crds))


def wipe(bed, helper, how):
    """Removes every object of the six kinds (not measured)."""
    t0 = time.perf_counter()
    if how == "crd":
        run([helper, "unfinalize", *bed.target()])
        run(bed.kubectl("delete", "crd", *RESOURCES, "--ignore-not-found", "--wait=true", "--timeout=900s"))
        install_crds(bed)
    else:
        # One range delete per kind in etcd; the apiserver's watch cache follows.
        for plural, group, _ in KINDS:
            key = bed.kind_prefix(plural, group)
            bed.etcd("/v3/kv/deleterange", {"key": b64(key), "range_end": b64(prefix_end(key))})
    deadline = time.time() + 120
    while True:
        listed = run(bed.kubectl("get", ",".join(RESOURCES), "-A", "-o", "name")).split()
        if not listed and bed.stored_count() == 0:
            break
        if time.time() > deadline:
            raise Failed(f"{len(listed)} objects still listed after the wipe")
        time.sleep(0.5)
    time.sleep(2)  # let the apiserver's and controller-manager's reactions settle
    return time.perf_counter() - t0


def dump(bed):
    """Every object of the six kinds: what must survive, and its version."""
    text = run(bed.kubectl("get", ",".join(RESOURCES), "-A", "-o", "json"))
    essence, versions = {}, {}
    for o in json.loads(text)["items"]:
        m = o.get("metadata", {})
        key = f"{o['kind']}/{m.get('namespace', '')}/{m['name']}"
        essence[key] = {
            "apiVersion": o.get("apiVersion"),
            "spec": o.get("spec"),
            "labels": m.get("labels") or {},
            "annotations": m.get("annotations") or {},
            "finalizers": m.get("finalizers") or [],
        }
        versions[key] = (m.get("uid"), m.get("resourceVersion"))
    return essence, versions


def compare(reference, got):
    missing = sorted(set(reference) - set(got))
    extra = sorted(set(got) - set(reference))
    different = sorted(k for k in set(reference) & set(got) if reference[k] != got[k])
    return {
        "ok": not (missing or extra or different),
        "missing": len(missing),
        "extra": len(extra),
        "different": len(different),
        "examples": (missing[:3] + extra[:3] + different[:3]),
    }


def verify(bed, reference, what):
    """Checks every object against the reference; returns the check and the versions."""
    essence, versions = dump(bed)
    c = compare(reference, essence)
    if not c["ok"]:
        raise Failed(f"after {what}: {c}")
    log(f"  verified: all {len(essence)} objects identical (spec, labels, annotations, finalizers)")
    return c, versions


def count_lines(path, prefix):
    with open(path, encoding="utf-8") as f:
        return sum(1 for ln in f if ln.startswith(prefix))


# ------------------------------------------------------------- the phases


def bench_size(bed, args, n, work):
    sw, helper = args.stepwise, args.helper
    res = {"n": n, "namespaces": args.namespaces, "restore_concurrency": args.restore_concurrency,
           "backup": [], "proof": [], "restore": [], "rehearsal": [], "wipes": []}
    d = os.path.join(work, f"n{n}")
    os.makedirs(d, exist_ok=True)

    log(f"N={n}: emptying the store and seeding {n} objects over {args.namespaces} namespaces")
    res["wipes"].append(wipe(bed, helper, args.wipe))
    seeded = json.loads(run([helper, "seed", *bed.target(), "--objects", str(n), "--namespaces", str(args.namespaces)]))
    res["seed"] = seeded
    reference, _ = dump(bed)
    if len(reference) != n:
        raise Failed(f"{len(reference)} objects after seeding, not {n}")
    res["finalizers"] = sum(1 for v in reference.values() if v["finalizers"])

    # --- backup
    sw_dir, kc_dir = os.path.join(d, "stepwise-backup"), os.path.join(d, "kubectl-backup")
    kubectl_script = " && ".join(
        f"{sh(bed.kubectl_bin)} --kubeconfig {sh(bed.kubeconfig)} --context {sh(bed.context)} "
        f"get {r} -A -o yaml > {sh(os.path.join(kc_dir, r + '.yaml'))}"
        for r in RESOURCES
    )
    for rep in range(args.reps):
        order = ["stepwise", "kubectl"] if rep % 2 == 0 else ["kubectl", "stepwise"]
        log(f"N={n} backup repetition {rep + 1}/{args.reps}: {' then '.join(order)}")
        for side in order:
            if side == "stepwise":
                shutil.rmtree(sw_dir, ignore_errors=True)
                s = measure(bed, "stepwise backup", [sw, *bed.target(), "backup", *RESOURCES, "--to", sw_dir], work)
                with open(os.path.join(sw_dir, "manifest.json"), encoding="utf-8") as f:
                    saved = sum(k["count"] for k in json.load(f)["kinds"])
            else:
                shutil.rmtree(kc_dir, ignore_errors=True)
                os.makedirs(kc_dir)
                s = measure(bed, "kubectl get x6", ["bash", "-c", kubectl_script], work)
                saved = sum(count_lines(os.path.join(kc_dir, r + ".yaml"), "- apiVersion: ") for r in RESOURCES)
            if saved != n:
                raise Failed(f"{side} backup saved {saved} objects, not {n}")
            s.update(side=side, rep=rep)
            res["backup"].append(s)
            if side == "stepwise":
                res["proof"].append(prove(bed, sw, sw_dir, s, rep, work))
    if args.only == "backup":
        return res

    # --- restore, ceiling and rehearsal
    sides = ["stepwise", "kubectl"] + [f"ceiling-{c}" for c in CEILING_CONCURRENCY]
    rehearse_dir = os.path.join(d, "rehearsal-backup")
    for rep in range(args.reps):
        order = sides[rep % len(sides):] + sides[: rep % len(sides)]
        if rep >= args.ceiling_reps:
            order = [s for s in order if not s.startswith("ceiling")]
        log(f"N={n} restore repetition {rep + 1}/{args.reps}: {', '.join(order)}")
        for side in order:
            res["wipes"].append(wipe(bed, helper, args.wipe))
            if side == "stepwise":
                argv = [sw, *bed.target(), "restore", sw_dir]
                if args.restore_concurrency:
                    argv += ["--concurrency", str(args.restore_concurrency)]
                s = measure(bed, "stepwise restore", argv, work)
                if "every object of the backup is in the cluster" not in s["output"]:
                    raise Failed(f"stepwise restore did not confirm: {s['output'][-2000:]}")
                s["verify"], live_versions = verify(bed, reference, "stepwise restore")
            elif side == "kubectl":
                argv = ["bash", "-c", " && ".join(
                    f"{sh(bed.kubectl_bin)} --kubeconfig {sh(bed.kubeconfig)} --context {sh(bed.context)} "
                    f"create -f {sh(os.path.join(kc_dir, r + '.yaml'))} >/dev/null"
                    for r in RESOURCES
                )]
                s = measure(bed, "kubectl create -f x6", argv, work)
                s["verify"], _ = verify(bed, reference, "kubectl create -f")
            else:
                c = int(side.split("-")[1])
                s = measure(bed, f"raw create loop c={c}", [helper, "ceiling", *bed.target(), "--from", sw_dir,
                                                            "--concurrency", str(c)], work)
                line = [ln for ln in s["output"].splitlines() if ln.startswith("{")][-1]
                s["loop"] = json.loads(line)
                if s["loop"]["created"] != n or s["loop"]["failed"]:
                    raise Failed(f"the raw create loop created {s['loop']['created']} of {n}")
            s.update(side=side, rep=rep, per_second=n / s["wall"])
            if side.startswith("ceiling"):
                # The loop's own clock: the creates only, without reading the files.
                s["per_second"] = s["loop"]["per_second"]
            res["restore"].append(s)

            if side == "stepwise" and not args.no_rehearsal:
                # A rehearsal validates a backup of the objects as they are (the
                # state before an upgrade): back them up (not measured), rehearse.
                shutil.rmtree(rehearse_dir, ignore_errors=True)
                run([sw, *bed.target(), "backup", *RESOURCES, "--to", rehearse_dir])
                before = live_versions
                r = measure(bed, "stepwise restore --dry-run", [sw, *bed.target(), "restore", rehearse_dir,
                                                                 "--dry-run"], work, allow_fail=True)
                _, after = dump(bed)
                r.update(side="rehearsal", rep=rep, per_second=n / r["wall"], unchanged=before == after)
                if r["rc"] != 0:
                    log(f"  the rehearsal failed (exit {r['rc']}): {r['output'][-600:]}")
                if before != after:
                    raise Failed("the rehearsal changed objects (uid or resourceVersion)")
                res["rehearsal"].append(r)
    return res


def prove(bed, sw, sw_dir, backup, rep, work):
    """`stepwise backup --check` of the backup just taken, measured like it."""
    p = measure(bed, "stepwise backup --check", [sw, *bed.target(), "backup", "--check", sw_dir], work)
    if "proven" not in p["output"]:
        raise Failed(f"the proof did not say proven: {p['output'][-2000:]}")
    p.update(side="proof", rep=rep, backup_wall=backup["wall"], ratio=p["wall"] / backup["wall"])
    log(f"  proof: {100 * p['ratio']:.1f}% of the backup it proves")
    return p


def sh(s):
    return "'" + s.replace("'", "'\\''") + "'"


# --------------------------------------------------------------- reporting


def med(samples, key, side=None):
    vals = [s[key] for s in samples if side is None or s["side"] == side]
    return statistics.median(vals) if vals else float("nan")


def summarise(res):
    n = res["n"]
    b, r = res["backup"], res["restore"]
    out = {"n": n}
    out["backup_sw"] = med(b, "wall", "stepwise")
    out["backup_kc"] = med(b, "wall", "kubectl")
    out["backup_rss"] = max(s["rss_mb"] for s in b if s["side"] == "stepwise")
    out["backup_rss_med"] = med(b, "rss_mb", "stepwise")
    out["backup_speedup"] = out["backup_kc"] / out["backup_sw"]
    p = res.get("proof") or []
    out["proof"] = med(p, "wall") if p else float("nan")
    out["proof_ratio"] = med(p, "ratio") if p else float("nan")
    out["proof_rss"] = max(s["rss_mb"] for s in p) if p else float("nan")
    out["has_restore"] = bool(r)
    if not r:
        return out
    out["restore_sw"] = med(r, "wall", "stepwise")
    out["restore_kc"] = med(r, "wall", "kubectl")
    out["restore_sw_rate"] = med(r, "per_second", "stepwise")
    out["restore_kc_rate"] = med(r, "per_second", "kubectl")
    out["restore_rss"] = max(s["rss_mb"] for s in r if s["side"] == "stepwise")
    out["restore_speedup"] = out["restore_kc"] / out["restore_sw"]
    out["restore_c"] = res.get("restore_concurrency") or 16
    out["ceiling"] = {}
    for c in CEILING_CONCURRENCY:
        side = f"ceiling-{c}"
        if any(s["side"] == side for s in r):
            out["ceiling"][c] = med(r, "per_second", side)
    out["ceiling_best"] = max(out["ceiling"].values()) if out["ceiling"] else float("nan")
    out["ceiling_share"] = out["restore_sw_rate"] / out["ceiling_best"]
    h = res["rehearsal"]
    out["rehearsal"] = med(h, "wall") if h else float("nan")
    out["rehearsal_ok"] = all(s["rc"] == 0 for s in h) if h else None
    out["rehearsal_ratio"] = out["rehearsal"] / out["restore_sw"]
    return out


def profile_row(samples, side, n=None):
    ss = [s for s in samples if s["side"] == side]
    if not ss:
        return None
    wall = statistics.median(s["wall"] for s in ss)

    def per_wall(key):
        return statistics.median(s[key] / s["wall"] for s in ss)

    return {
        "wall": wall,
        "client": per_wall("client_cpu"),
        "apiserver": per_wall("apiserver_cpu"),
        "etcd": per_wall("etcd_cpu"),
        "controller": per_wall("controller_cpu"),
        "other": per_wall("other_cpu"),
        "busy": per_wall("machine_busy"),
        "iowait": per_wall("machine_iowait"),
        "fsync": per_wall("fsync_s"),
        "fsyncs": statistics.median(s["fsyncs"] for s in ss),
        # CPU milliseconds per object: the apiserver's, and everything the command
        # needs (client + apiserver + etcd + controller-manager).
        "api_ms": statistics.median(1000 * s["apiserver_cpu"] / n for s in ss) if n else float("nan"),
        "all_ms": statistics.median(
            1000 * (s["client_cpu"] + s["apiserver_cpu"] + s["etcd_cpu"] + s["controller_cpu"]) / n for s in ss
        ) if n else float("nan"),
    }


def restore_verdict(needed, limit, sw):
    share = needed / limit
    if share > 1:
        return (f"4× kubectl needs {share:.0%} of the CPU limit: the bottleneck is the apiserver's CPU on this "
                f"{NPROC}-core machine, not stepwise and not the disk (fsync is a small share); no client reaches "
                "4× kubectl here.")
    if share > 0.85:
        return (f"4× kubectl needs {share:.0%} of that CPU limit: reachable only by a client as cheap as the raw "
                f"loop on a machine doing nothing else; the apiserver's CPU is the bottleneck, and other processes "
                f"took {sw['other']:.2f} cores of it during stepwise's restores.")
    return (f"4× kubectl needs {share:.0%} of that CPU limit, so the machine could take it: the gap is in how "
            "stepwise schedules its creates (see the next paragraph).")


def analysis(sums, results):
    """Paragraphs on each missed target, with the numbers of the profile."""
    out = []
    by_n = {r["n"]: r for r in results}
    for s in sums:
        n, res = s["n"], by_n[s["n"]]
        big = n >= 30000
        misses = []
        if big and s["backup_speedup"] < TARGET_BACKUP_SPEEDUP:
            sw, kc = profile_row(res["backup"], "stepwise", n), profile_row(res["backup"], "kubectl", n)
            floor = sw["wall"] * (sw["apiserver"] + sw["etcd"]) / NPROC
            misses.append(
                f"**Backup, {s['backup_speedup']:.1f}× instead of 5×.** stepwise itself is cheap "
                f"({sw['client']:.2f} cores, {1000 * sw['client'] * sw['wall'] / n:.2f} ms of CPU per object, "
                f"peak RSS {s['backup_rss']:.0f} MB); the list is the apiserver's work: {sw['apiserver']:.2f} cores "
                f"for {fmt_s(sw['wall'])}, {sw['api_ms']:.2f} ms of apiserver CPU per object, while processes outside "
                f"the bed used {sw['other']:.2f} cores. The six kubectl gets cost the apiserver about the same per "
                f"object ({kc['api_ms']:.2f} ms) but kubectl spends {1000 * kc['client'] * kc['wall'] / n:.2f} ms of "
                f"its own CPU per object turning JSON into YAML. With the apiserver's and etcd's CPU alone spread "
                f"over all {NPROC} cores a backup cannot take less than {floor:.2f} s, which would be "
                f"{s['backup_kc'] / floor:.1f}× the kubectl time: "
                + ("the target is beyond what this bed can serve, whatever the client does."
                   if s["backup_kc"] / floor < TARGET_BACKUP_SPEEDUP else
                   "so the remaining gap is in how the listing is scheduled (pages of 500, 4 kinds at a time), "
                   "not in the server's capacity.")
            )
        if big and s["proof_ratio"] > TARGET_PROOF_SHARE:
            misses.append(proof_analysis(s, res))
        if not s["has_restore"]:
            out.extend(m + "\n" for m in misses)
            continue
        if s["restore_speedup"] < TARGET_RESTORE_SPEEDUP:
            sw, kc = profile_row(res["restore"], "stepwise", n), profile_row(res["restore"], "kubectl", n)
            reach = s["ceiling_best"] / s["restore_kc_rate"]
            loops = [profile_row(res["restore"], f"ceiling-{c}", n) for c in s["ceiling"]]
            cheapest = min([sw["all_ms"]] + [p["all_ms"] for p in loops if p])
            misses.append(
                f"**Restore at {n:,}, {s['restore_speedup']:.1f}× `kubectl create -f` instead of 4×.** "
                f"4× would be {4 * s['restore_kc_rate']:.0f} objects/s; the raw create loop reached at best "
                f"{s['ceiling_best']:.0f}/s ({reach:.1f}× kubectl). A create costs the apiserver {sw['api_ms']:.2f} ms "
                f"of CPU and the whole bed plus client {sw['all_ms']:.2f} ms ({cheapest:.2f} ms for the cheapest "
                f"client measured), so {NPROC} cores can take at most {1000 * NPROC / cheapest:.0f} creates/s even "
                f"with nothing else running; during stepwise's "
                f"restores the cores were {100 * sw['busy'] / NPROC:.0f}% busy ({sw['apiserver']:.2f} apiserver, "
                f"{sw['etcd']:.2f} etcd, {sw['client']:.2f} stepwise, {sw['other']:.2f} other processes) and etcd "
                f"spent {100 * sw['fsync']:.0f}% of the time in fsync. "
                + restore_verdict(4 * s["restore_kc_rate"], 1000 * NPROC / cheapest, sw)
            )
        if s["ceiling_share"] < TARGET_CEILING_SHARE:
            sw = profile_row(res["restore"], "stepwise", n)
            best_c = max(s["ceiling"], key=s["ceiling"].get)
            cl = profile_row(res["restore"], f"ceiling-{best_c}", n)
            misses.append(
                f"**Restore at {n:,}, {100 * s['ceiling_share']:.0f}% of the raw loop instead of 75%** "
                f"({s['restore_sw_rate']:.0f}/s against {s['ceiling_best']:.0f}/s at c={best_c}). Per object "
                f"stepwise's restore cost {sw['all_ms']:.2f} ms of CPU in all ({sw['api_ms']:.2f} in the apiserver) "
                f"against the loop's {cl['all_ms']:.2f} ({cl['api_ms']:.2f}), and etcd needed {sw['fsyncs']:.0f} WAL "
                f"fsyncs for its {n:,} creates against {cl['fsyncs']:.0f} for the loop's (more creates in flight, "
                f"bigger batches: cheaper per object for etcd and the apiserver alike); stepwise runs "
                f"{s['restore_c']} creates at a time "
                "one kind after another (each kind's last creates finish before the next kind starts), reads and "
                "hashes the files before it starts and counts the live objects at the end, all inside its wall "
                "time, where the loop's rate counts only its creates. Other processes used "
                f"{sw['other']:.2f} cores during stepwise's restores and {cl['other']:.2f} during the loop's."
            )
        if big and s["rehearsal_ok"] is not None and (s["rehearsal_ratio"] > TARGET_REHEARSAL_RATIO
                                                       or not s["rehearsal_ok"]):
            h = profile_row(res["rehearsal"], "rehearsal", n)
            misses.append(
                f"**Rehearsal at {n:,}: {s['rehearsal_ratio']:.2f}× the real restore.** A dry-run apply costs "
                f"the apiserver {h['api_ms']:.2f} ms per object (a create {profile_row(res['restore'], 'stepwise', n)['api_ms']:.2f})."
            )
        out.extend(m + "\n" for m in misses)
    if out:
        out.insert(0, "## Why the missed targets were missed\n")
    return out


def proof_analysis(s, res):
    """Where the proof's time goes: the client's own work, the API server's, or waiting."""
    n = s["n"]
    pr, bk = profile_row(res["proof"], "proof", n), profile_row(res["backup"], "stepwise", n)
    client_s, server_s = pr["client"] * pr["wall"], (pr["apiserver"] + pr["etcd"]) * pr["wall"]
    floor = server_s / NPROC
    if pr["busy"] >= 0.85 * NPROC:
        who = "the client" if client_s > server_s else "the API server and etcd"
        why = (f"The cores were {100 * pr['busy'] / NPROC:.0f}% busy, {who} using the most: the proof is CPU-bound "
               "on this machine.")
    elif pr["client"] >= 0.9:
        why = "The client kept one core busy: its own work (reading, hashing and comparing) is the bottleneck."
    else:
        why = (f"The cores were only {100 * pr['busy'] / NPROC:.0f}% busy: most of the wall time is waiting on "
               "round trips (connecting, discovery, the pages of each metadata list, one dry-run create per kind).")
    return (
        f"**Proof at {n:,}: {100 * s['proof_ratio']:.0f}% of the backup's time instead of ≤ 10%** "
        f"({fmt_s(s['proof'])} against {fmt_s(s['backup_sw'])}). While it ran, stepwise used {pr['client']:.2f} "
        f"cores ({client_s:.2f} CPU-s, {1000 * client_s / n:.3f} ms per object: hashing the files, reading "
        f"versions.json, comparing), kube-apiserver {pr['apiserver']:.2f} cores ({pr['api_ms']:.3f} ms per object, "
        f"against {bk['api_ms']:.3f} for the backup's full list), etcd {pr['etcd']:.2f}, other processes "
        f"{pr['other']:.2f}. {why} The server's CPU alone, spread over all {NPROC} cores, allows a proof of "
        f"{floor:.2f} s ({100 * floor / s['backup_sw']:.0f}% of the backup); the client's alone "
        f"{client_s:.2f} s ({100 * client_s / s['backup_sw']:.0f}%)."
    )


def bottleneck(p):
    """One sentence on what limited a run, from its CPU and fsync shares."""
    shares = {"the client": p["client"], "kube-apiserver": p["apiserver"], "etcd": p["etcd"],
              "kube-controller-manager": p["controller"], "other processes on the machine": p["other"]}
    top = max(shares, key=shares.get)
    if p["busy"] >= 0.85 * NPROC:
        return (f"CPU-bound: the {NPROC} cores were {100 * p['busy'] / NPROC:.0f}% busy, "
                f"{top} using the most ({shares[top]:.2f} cores)")
    if p["fsync"] >= 0.5:
        return f"etcd fsync-bound: etcd spent {100 * p['fsync']:.0f}% of the wall time in WAL fsync"
    if p["client"] >= 0.9:
        return f"client-bound: the client kept one core busy ({p['client']:.2f} cores)"
    return (f"latency-bound: cores only {100 * p['busy'] / NPROC:.0f}% busy, etcd in fsync "
            f"{100 * p['fsync']:.0f}% of the time; {top} used the most ({shares[top]:.2f} cores)")


def fmt_s(x):
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def machine_facts():
    facts = {"nproc": NPROC}
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                facts["memory_gib"] = int(line.split()[1]) / 1024 / 1024
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    facts["kernel"] = platform.release()
    return facts


def versions(bed, args):
    v = {}
    try:
        v["stepwise"] = run([args.stepwise, "--version"]).strip()
    except Failed:
        v["stepwise"] = "?"
    try:
        v["commit"] = run(["git", "-C", bed.repo, "rev-parse", "--short", "HEAD"]).strip()
        dirty = run(["git", "-C", bed.repo, "status", "--porcelain", "--untracked-files=no"]).strip()
        v["commit"] += " (with uncommitted changes)" if dirty else ""
    except Failed:
        v["commit"] = "?"
    v["kube-apiserver"] = run([bed.cmdline(bed.pids["apiserver"])[0], "--version"]).strip()
    # The bed's own etcd, from its cache: there need not be one on PATH.
    v["etcd"] = "etcd " + run([bed.cmdline(bed.pids["etcd"])[0], "--version"]).splitlines()[0].split()[-1]
    v["kubectl"] = json.loads(run([bed.kubectl_bin, "version", "--client", "-o", "json"]))["clientVersion"]["gitVersion"]
    return v


def markdown(meta, results):
    args = types.SimpleNamespace(**meta["args"])
    facts, vers = meta["facts"], meta["versions"]
    started = datetime.datetime.fromisoformat(meta["started"])
    finished = datetime.datetime.fromisoformat(meta["finished"])
    sums = [summarise(r) for r in results]
    partial = meta["args"].get("only") == "backup"
    for s, res in zip(sums, results):
        if not s["has_restore"]:
            continue
        sw = profile_row(res["restore"], "stepwise", res["n"])
        loops = [profile_row(res["restore"], f"ceiling-{c}", res["n"]) for c in s["ceiling"]]
        s["sw_ms"], s["loop_ms"] = sw["all_ms"], min(p["all_ms"] for p in loops if p)
        s["sw_limit"], s["loop_limit"] = 1000 * NPROC / s["sw_ms"], 1000 * NPROC / s["loop_ms"]
        s["cpu_share"] = s["sw_limit"] / s["loop_limit"]
    L = []
    w = L.append
    w("# Benchmarks: " + ("backup of custom resources and its proof" if partial else
                          "backup and restore of custom resources"))
    w("")
    w("Generated by `benches/backup_restore/run.sh"
      + (" --quick" if args.quick else "") + (" --only backup" if partial else "")
      + "`; do not edit by hand, run it again.")
    w("")
    if partial:
        w("The backup and proof phases only; the full report, with the restores, is "
          "[benchmarks.md](benchmarks.md).")
        w("")
    w(f"* Date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC"
      + (" (quick mode: N=3,000 only)" if args.quick else ""))
    w(f"* Machine: {facts['nproc']} cores ({facts.get('cpu', '?')}), "
      f"{facts.get('memory_gib', 0):.1f} GiB memory, Linux {facts['kernel']}")
    w(f"* Test bed: {vers['kube-apiserver']} + kube-controller-manager, {vers['etcd']}, "
      f"all on 127.0.0.1 (`tests/cluster/testbed.sh`); kubectl {vers['kubectl']}")
    w(f"* stepwise: `{vers['stepwise']}`, release build, commit {vers['commit']}")
    sizes = ", ".join(f"{s['n']:,}" for s in sums)
    w(f"* Objects: N = {sizes} custom resources of the six NGINX Service Mesh "
      f"kinds (N/6 each) over M = {args.namespaces} namespaces; every 11th carries a finalizer, every one "
      "has varied labels, annotations with unicode, quotes and newlines, and a nested spec")
    if partial:
        w(f"* Repetitions: {args.reps} of every measurement, the sides alternating; the tables show medians")
    else:
        w(f"* Repetitions: {args.reps} of every measurement (ceiling: {min(args.ceiling_reps, args.reps)}), "
          "the sides alternating; the tables show medians")
        w(f"* `stepwise restore` concurrency: "
          f"{args.restore_concurrency or '16 (the default)'}")
    w(f"* Other work on the machine: before each measurement the driver waited up to {args.quiet_wait:.0f} s "
      f"for processes outside the test bed to use less than {args.quiet_cores} cores; the column \"other\" "
      "below shows what they used during the measurement anyway")
    w("")
    w("## Results")
    w("")
    w("| N | operation | stepwise | baseline | ratio | target |")
    w("| ---: | --- | ---: | ---: | ---: | --- |")
    for s in sums:
        n = f"{s['n']:,}"
        w(f"| {n} | backup, wall | {fmt_s(s['backup_sw'])} | {fmt_s(s['backup_kc'])} (6× `kubectl get -o yaml`) "
          f"| {s['backup_speedup']:.1f}× faster | ≥ 5× {verdict(s['backup_speedup'] >= TARGET_BACKUP_SPEEDUP)}"
          + ("" if s["n"] >= 30000 else " (target is set at 30,000)") + " |")
        w(f"| {n} | backup, peak RSS of stepwise | {s['backup_rss']:.1f} MB | | | < 80 MB "
          f"{verdict(s['backup_rss'] < TARGET_BACKUP_RSS_MB)} |")
        if s["proof"] == s["proof"]:  # not NaN: the run measured proofs
            w(f"| {n} | proof (`backup --check`), wall | {fmt_s(s['proof'])} | {fmt_s(s['backup_sw'])} (the backup "
              f"it proves) | {100 * s['proof_ratio']:.1f}% of backup | ≤ 10% of backup "
              + (verdict(s["proof_ratio"] <= TARGET_PROOF_SHARE) if s["n"] >= 30000 else "(target is set at 30,000)")
              + " |")
            w(f"| {n} | proof, peak RSS of stepwise | {s['proof_rss']:.1f} MB | | | |")
        if not s["has_restore"]:
            continue
        w(f"| {n} | restore, wall | {fmt_s(s['restore_sw'])} | {fmt_s(s['restore_kc'])} (`kubectl create -f` ×6) "
          f"| {s['restore_speedup']:.1f}× faster | ≥ 4× {verdict(s['restore_speedup'] >= TARGET_RESTORE_SPEEDUP)} |")
        w(f"| {n} | restore, objects/s | {s['restore_sw_rate']:.0f}/s | {s['restore_kc_rate']:.0f}/s | | |")
        ceil = ", ".join(f"c={c}: {v:.0f}/s" for c, v in s["ceiling"].items())
        w(f"| {n} | restore vs raw create loop | {s['restore_sw_rate']:.0f}/s | best {s['ceiling_best']:.0f}/s "
          f"({ceil}) | {100 * s['ceiling_share']:.0f}% | ≥ 75% "
          f"{verdict(s['ceiling_share'] >= TARGET_CEILING_SHARE)} |")
        w(f"| {n} | restore vs raw create loop, by CPU cost per object | {s['sw_ms']:.2f} ms → {s['sw_limit']:.0f}/s "
          f"| {s['loop_ms']:.2f} ms → {s['loop_limit']:.0f}/s | {100 * s['cpu_share']:.0f}% | (independent of "
          "other load: N × cores ÷ CPU-s) |")
        w(f"| {n} | raw create loop vs `kubectl create -f` | | | {s['ceiling_best'] / s['restore_kc_rate']:.1f}× "
          "faster | (the most any client reached here) |")
        if s["rehearsal_ok"] is not None:
            ok = s["rehearsal_ratio"] <= TARGET_REHEARSAL_RATIO and s["rehearsal_ok"]
            w(f"| {n} | rehearsal (`restore --dry-run`) vs real restore | {fmt_s(s['rehearsal'])} | "
              f"{fmt_s(s['restore_sw'])} | {s['rehearsal_ratio']:.2f}× | ≤ 1.5×"
              + (f" {verdict(ok)}" if s["n"] >= 30000 else " (target is set at 30,000)")
              + ("" if s["rehearsal_ok"] else " — the rehearsal **failed**") + " |")
        w(f"| {n} | restore, peak RSS of stepwise | {s['restore_rss']:.1f} MB | | | |")
    w("")
    if any(s["has_restore"] for s in sums):
        w("Every `stepwise restore` and `kubectl create -f` was followed by a check that each of the N objects "
          "came back with identical spec, labels, annotations and finalizers (a `kubectl get -o json` dump "
          "normalised by `bench.py`, against the dump taken right after seeding); every rehearsal by a check "
          "that no object's uid or resourceVersion changed. All passed, or the run would have stopped.")
        w("")
    if any(s["proof"] == s["proof"] for s in sums):
        w("Each proof ran right after the backup it proves, on that backup's folder, and its ratio is the median "
          "of each proof's wall time divided by that backup's. Every one said \"proven\", or the run would have "
          "stopped.")
        w("")
    w("## Targets")
    w("")
    for s in sums:
        big = s["n"] >= 30000
        lines = []
        if big:
            lines.append(("backup ≥ 5× faster than the six kubectl gets", s["backup_speedup"] >= TARGET_BACKUP_SPEEDUP,
                          f"{s['backup_speedup']:.1f}×", f"{100 * (1 - s['backup_speedup'] / TARGET_BACKUP_SPEEDUP):.0f}% short"))
            lines.append(("backup peak RSS < 80 MB", s["backup_rss"] < TARGET_BACKUP_RSS_MB, f"{s['backup_rss']:.1f} MB",
                          f"{s['backup_rss'] - TARGET_BACKUP_RSS_MB:.1f} MB over"))
            if s["proof"] == s["proof"]:
                lines.append(("proof (`backup --check`) at most 10% of the backup's time",
                              s["proof_ratio"] <= TARGET_PROOF_SHARE, f"{100 * s['proof_ratio']:.1f}%",
                              f"{100 * (s['proof_ratio'] - TARGET_PROOF_SHARE):.1f} points over"))
        if not s["has_restore"]:
            for what, ok, val, miss in lines:
                w(f"* N={s['n']:,}: {what}: {val} — " + ("met" if ok else f"**missed** ({miss})"))
            continue
        lines.append(("restore ≥ 4× faster than `kubectl create -f`", s["restore_speedup"] >= TARGET_RESTORE_SPEEDUP,
                      f"{s['restore_speedup']:.1f}×", f"{100 * (1 - s['restore_speedup'] / TARGET_RESTORE_SPEEDUP):.0f}% short"))
        lines.append(("restore ≥ 75% of the raw create loop's best", s["ceiling_share"] >= TARGET_CEILING_SHARE,
                      f"{100 * s['ceiling_share']:.0f}% by wall time (by CPU cost per object: "
                      f"{100 * s['cpu_share']:.0f}%)",
                      f"{100 * (TARGET_CEILING_SHARE - s['ceiling_share']):.0f} points short"))
        if big and s["rehearsal_ok"] is not None:
            lines.append(("rehearsal within 1.5× of the real restore",
                          s["rehearsal_ratio"] <= TARGET_REHEARSAL_RATIO and s["rehearsal_ok"],
                          f"{s['rehearsal_ratio']:.2f}×", f"{s['rehearsal_ratio'] / TARGET_REHEARSAL_RATIO - 1:.0%} over"))
        for what, ok, val, miss in lines:
            w(f"* N={s['n']:,}: {what}: {val} — " + ("met" if ok else f"**missed** ({miss})"))
    w("")
    for line in analysis(sums, results):
        w(line)
    w("## Where the time goes")
    w("")
    w("Medians over the repetitions of CPU time per second of wall time (1.00 = one core busy) while each "
      "command ran: the client (stepwise, kubectl or the raw loop, from GNU time), kube-apiserver, etcd and "
      "kube-controller-manager (from `/proc/PID/stat`), everything else on the machine (busy time from "
      "`/proc/stat` minus those), and the share of the wall time etcd spent in WAL fsync (its "
      "`etcd_disk_wal_fsync_duration_seconds` counters).")
    w("")
    w("The last columns divide the CPU time by N: the apiserver's milliseconds per object, all the CPU the "
      "command needs per object (client + apiserver + etcd + controller-manager), and the rate that CPU "
      f"cost allows if the {NPROC} cores did nothing else (N × cores ÷ CPU-seconds): the limit of this "
      "machine for that command, whatever the concurrency.")
    w("")
    w("| N | command | wall | client | apiserver | etcd | controller-mgr | other | machine busy | etcd fsync | fsyncs "
      "| apiserver ms/obj | all ms/obj | CPU limit | verdict |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    names = {"stepwise": "stepwise", "kubectl": "kubectl", "rehearsal": "stepwise restore --dry-run"}
    for res in results:
        groups = [("backup", "stepwise", "stepwise backup"), ("backup", "kubectl", "6× kubectl get -o yaml"),
                  ("proof", "proof", "stepwise backup --check"),
                  ("restore", "stepwise", "stepwise restore"), ("restore", "kubectl", "6× kubectl create -f")]
        groups += [("restore", f"ceiling-{c}", f"raw create loop, c={c}") for c in CEILING_CONCURRENCY]
        groups += [("rehearsal", "rehearsal", names["rehearsal"])]
        for phase, side, label in groups:
            p = profile_row(res.get(phase, []), side, res["n"])
            if p is None:
                continue
            w(f"| {res['n']:,} | {label} | {fmt_s(p['wall'])} | {p['client']:.2f} | {p['apiserver']:.2f} | "
              f"{p['etcd']:.2f} | {p['controller']:.2f} | {p['other']:.2f} | {100 * p['busy'] / NPROC:.0f}% | "
              f"{100 * p['fsync']:.0f}% | {p['fsyncs']:.0f} | {p['api_ms']:.2f} | {p['all_ms']:.2f} | "
              f"{1000 * NPROC / p['all_ms']:,.0f}/s | {bottleneck(p)} |")
    w("")
    w("## Every sample")
    w("")
    w("<details><summary>all repetitions, in the order they ran</summary>")
    w("")
    w("| N | phase | rep | command | wall | objects/s | client CPU-s | peak RSS | apiserver CPU-s | etcd CPU-s "
      "| other CPU-s | others' load before (cores) |")
    w("| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for res in results:
        for phase in ("backup", "proof", "restore", "rehearsal"):
            for s in res.get(phase, []):
                rate = f"{s['per_second']:.0f}" if "per_second" in s else ""
                w(f"| {res['n']:,} | {phase} | {s['rep'] + 1} | {s['label']} | {s['wall']:.2f} | {rate} | "
                  f"{s['client_cpu']:.2f} | {s['rss_mb']:.1f} MB | {s['apiserver_cpu']:.2f} | {s['etcd_cpu']:.2f} | "
                  f"{s['other_cpu']:.2f} | {s['other_before']:.2f} |")
    w("")
    w("</details>")
    w("")
    w("## Notes")
    w("")
    w("* A proof right after its backup finds every resourceVersion as saved, so it reads no object whole: "
      "it hashes the files, lists each kind's metadata (uid and resourceVersion) and sends one dry-run create "
      "per kind. That is the common case before a destructive step; objects whose resourceVersion moved are "
      "each read and compared, which this run does not measure.")
    w("* Each proof runs within seconds of its backup, while the API server's watch cache still holds the "
      "kinds' latest snapshots. A list continued past its first page is answered from etcd instead once a kind "
      "has not been written for a minute or so, at several times the API server's CPU. The proof lists up to "
      "10,000 objects of a kind in one request and does not depend on that; the backup's pages of 500 do, so "
      "on a quiet cluster the backup is slower and the proof's share of it smaller than here.")
    if not partial:
        notes_restore(w)
    w("* The machine is shared: other builds and test beds ran during the measurements. The column "
      "\"other\" shows how many cores they took; the medians and the alternating order soften their effect.")
    w("")
    w("## Reproduce")
    w("")
    w("```sh")
    w("tests/cluster/build.sh                      # once: the test bed's binaries (cached)")
    w("benches/backup_restore/run.sh --quick       # N=3,000, 3 repetitions: a few minutes")
    w("benches/backup_restore/run.sh               # N=3,000 and 30,000, 3 repetitions")
    w("benches/backup_restore/run.sh --only backup --sizes 30000   # the backup and its proof alone: minutes")
    w("```")
    w("")
    w(f"This run: `benches/backup_restore/run.sh {' '.join(args.argv_for_doc)}`".rstrip() + ".")
    w("")
    w("How it works: `benches/backup_restore/README.md`. Every sample of a run is in `results.json` of its "
      "scratch folder (kept with `--work DIR --keep`); `bench.py --render DIR/results.json --out FILE` writes "
      "this report again from it.")
    w("")
    return "\n".join(L), sums


def notes_restore(w):
    """The notes on how the restores were measured."""
    w("* The objects are removed between restores by one etcd range delete per kind (the apiserver's watch "
      "cache follows), never inside a measurement. `--wipe crd` deletes and re-creates the CRDs instead "
      "(after clearing the finalizers), as `nginx-meshctl remove` would; that took 2.5 minutes per wipe at "
      "30,000 objects, which would have doubled the run.")
    w("* Each rehearsal validates a backup of the objects as they are at that moment (the situation of an "
      "upgrade's rehearsal). Rehearsing a backup whose objects have since been deleted and re-created, such as "
      "the backup a restore was just made from, fails for every object with `metadata.uid: Invalid value: "
      "...: field is immutable (422)`: the backup keeps each object's old uid and the dry-run apply sends it "
      "to the re-created object. That looks like a defect of `stepwise restore --dry-run` (it could leave the uid "
      "out of what it applies); it is not what this benchmark measures.")
    w("* The raw create loop (`benches/backup_restore_seed.rs ceiling`) sends every object of the stepwise "
      "backup with kube-rs `Api::create`, all kinds in one `buffer_unordered(c)` stream; its rate is its "
      "own clock around the creates alone. stepwise's rates are N divided by the wall time of the whole "
      "command (checking the files, waiting for the kinds and namespaces, creating, counting).")


def print_table(sums):
    print()
    print(f"{'N':>7}  {'backup sw':>10} {'kubectl':>9} {'x':>5} {'RSS MB':>7}   {'proof':>8} {'share':>6}   "
          f"{'restore sw':>10} {'kubectl':>9} {'x':>5} {'obj/s':>6} {'ceiling':>8} {'share':>6}   {'dry-run':>8} "
          f"{'ratio':>6}")
    for s in sums:
        line = (f"{s['n']:>7}  {s['backup_sw']:>9.2f}s {s['backup_kc']:>8.2f}s {s['backup_speedup']:>5.1f} "
                f"{s['backup_rss']:>7.1f}   {s['proof']:>7.2f}s {100 * s['proof_ratio']:>5.1f}%")
        if s["has_restore"]:
            line += (f"   {s['restore_sw']:>9.2f}s {s['restore_kc']:>8.2f}s {s['restore_speedup']:>5.1f} "
                     f"{s['restore_sw_rate']:>6.0f} {s['ceiling_best']:>8.0f} {100 * s['ceiling_share']:>5.0f}%   "
                     f"{s['rehearsal']:>7.2f}s {s['rehearsal_ratio']:>6.2f}")
        print(line)
    print()


README_BEGIN = "<!-- benchmarks:begin -->"
README_END = "<!-- benchmarks:end -->"


def update_readme(path, doc, begin=None, end=None):
    """Puts the report's results table into the README between its markers
    (this report's unless others are given), so the README shows the latest
    measurement without anyone copying it."""
    begin, end = begin or README_BEGIN, end or README_END
    start = doc.index("## Results\n") + len("## Results\n")
    stop = doc.find("\n## ", start)
    table = doc[start:stop if stop >= 0 else len(doc)].strip()
    header = [line for line in doc.splitlines() if line.startswith(("* Date:", "* Machine:"))]
    block = "\n".join([begin, *header, "", table, "", end])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if begin not in text or end not in text:
        raise Failed(f"{path} has no {begin} ... {end} block to fill")
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(before + block + after)
    log(f"updated the table between {begin} and {end} in {path}")


def write_outputs(args, doc, begin=None, end=None):
    """The report to --out and its table into --readme, each when given."""
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(doc)
        log(f"wrote {args.out}")
    if args.readme:
        update_readme(args.readme, doc, begin, end)


def run_main(main):
    """Runs a driver's main; a Failed ends it with its message and exit 1."""
    try:
        main()
    except Failed as e:
        log(f"FAILED: {e}")
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", help="the test bed's testbed.env")
    p.add_argument("--repo")
    p.add_argument("--stepwise", help="the release binary")
    p.add_argument("--helper", help="the backup_restore_seed bench binary")
    p.add_argument("--work", help="scratch folder for backups and logs")
    p.add_argument("--render", metavar="RESULTS_JSON",
                   help="only write the report again from a results.json of an earlier run")
    p.add_argument("--sizes", default="3000,30000")
    p.add_argument("--namespaces", type=int, default=20)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--ceiling-reps", type=int, default=3)
    p.add_argument("--restore-concurrency", type=int, default=0)
    p.add_argument("--wipe", choices=["etcd", "crd"], default="etcd")
    p.add_argument("--no-rehearsal", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=["backup"], help="run only these phases: backup (the backups and their proofs)")
    p.add_argument("--quiet-wait", type=float, default=15.0,
                   help="seconds to wait before each measurement for other processes to calm down")
    p.add_argument("--quiet-cores", type=float, default=0.25)
    p.add_argument("--out", help="Markdown report to write")
    p.add_argument("--readme", help="README whose benchmarks block gets the results table")
    p.add_argument("--from-doc", metavar="REPORT_MD",
                   help="only copy the results table of an existing report into --readme")
    p.add_argument("--results", help="JSON with every sample, to write")
    p.add_argument("--doc-args", default="", help="the run.sh arguments, for the report")
    args = p.parse_args()
    args.argv_for_doc = args.doc_args.split()
    if args.from_doc:
        if not args.readme:
            p.error("--from-doc needs --readme")
        with open(args.from_doc, encoding="utf-8") as f:
            update_readme(args.readme, f.read())
        return
    if not args.render and not all((args.env, args.repo, args.stepwise, args.helper, args.work)):
        p.error("--env, --repo, --stepwise, --helper and --work are needed to run")
    QUIET.update(wait=args.quiet_wait, cores=args.quiet_cores)
    if args.reps < 3:
        log("fewer than 3 repetitions: the medians are not worth much")
    if args.render:
        with open(args.render, encoding="utf-8") as f:
            saved = json.load(f)
        meta, results = saved["meta"], saved["sizes"]
    else:
        bed = Bed(args.env, args.repo)
        keep = ("quick", "only", "reps", "ceiling_reps", "namespaces", "restore_concurrency", "argv_for_doc",
                "quiet_wait", "quiet_cores", "wipe")
        meta = {
            "args": {k: getattr(args, k) for k in keep},
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "facts": machine_facts(),
            "versions": versions(bed, args),
        }
        install_crds(bed)
        results = []
        for n in [int(x) for x in args.sizes.split(",") if x]:
            if n % len(KINDS):
                raise Failed(f"N={n} is not a multiple of {len(KINDS)}")
            results.append(bench_size(bed, args, n, args.work))
            meta["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
            if args.results:
                with open(args.results, "w", encoding="utf-8") as f:
                    json.dump({"meta": meta, "sizes": results}, f, indent=1)
    doc, sums = markdown(meta, results)
    print_table(sums)
    write_outputs(args, doc)


if __name__ == "__main__":
    run_main(main)
