#!/usr/bin/env python3
"""The detector against ground truth on pipeline variants (standard library only).

Each run starts a private Valkey, the reference pipeline with the variant's flags and its
access log, real k6 with the scenario (JSON output), one Prometheus per scrape interval the
watchers need, and one `slitop --headless` per watcher, all on the same run. Ground truth comes
from the pipeline's access log and k6's JSON output, never from slitop. One table is printed
at the end: per pipeline variant, watcher and scenario, each stage's confirmation − truth (s),
the capacity and knee errors, and the stages raised on the baseline.

Usage: bench_detector.py --root REPO --out DIR [--only PATTERN,...] [--list]
"""

import argparse
import bisect
import fnmatch
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

STAGES = ["rate_rises", "decoupled", "pending_climbs", "plateau", "p95_high", "errors_visible"]
SHORT = {"rate_rises": "rate", "decoupled": "dec", "pending_climbs": "pend",
         "plateau": "plat", "p95_high": "p95", "errors_visible": "err"}
HOLD_S = 3.0

# Systems under test: the pipeline's workers and the load scaled to their capacity. "ref" is
# 4 consumers x 100 ms fixed (40 req/s); "wide" is 8 consumers x 100 ms exponential (80 req/s,
# queueing well before the wall) driven by twice the rates and VUs thinking 100 ms; "slow" is
# 3 consumers x 150 ms uniform +-100 ms (20 req/s: a wall at a few req/s and a handful of VUs)
# driven by half the rates and VUs thinking 250 ms; "deep" is 24 consumers x 300 ms uniform
# +-100 ms (80 req/s with a dozen requests in flight at 40% load, and p95 past 500 ms after
# little more than 100 ms of waiting) driven by twice the rates and VUs thinking 200 ms.
SYSTEMS = {
    "ref": {"consumers": 4, "service_s": 0.1, "distribution": "fixed", "think_s": 0.5, "scale": 1},
    "wide": {"consumers": 8, "service_s": 0.1, "distribution": "exponential", "think_s": 0.1,
             "scale": 2},
    "slow": {"consumers": 3, "service_s": 0.15, "jitter_s": 0.1, "distribution": "uniform",
             "think_s": 0.25, "scale": 0.5},
    # Its VU ramp goes to 120 VUs: at 2 req/s a VU its knee is near 40, and 60 VUs queue
    # too little for the access log to call the seconds overloaded.
    "deep": {"consumers": 24, "service_s": 0.3, "jitter_s": 0.1, "distribution": "uniform",
             "think_s": 0.2, "scale": 2, "max_vus": 120},
    # "tail": 8 consumers x 100 ms log-normal with a 100 ms deviation (80 req/s; the median
    # job 71 ms, one in a hundred past 490 ms and one in a thousand past 900: long jobs hold
    # consumers and queue short ones below the wall), twice the rates, VUs thinking 100 ms.
    # (At a 200 ms deviation one job in two thousand outlasts the gateway's 3 s hold: clients
    # fail at 40% load, and the access log sees no overload before the first drop.)
    "tail": {"consumers": 8, "service_s": 0.1, "jitter_s": 0.1, "distribution": "lognormal",
             "think_s": 0.1, "scale": 2},
}
SYSTEM = dict(SYSTEMS["ref"], name="ref")


def scenarios():
    """name → (k6 script, k6 env, run seconds, open loop?), rates scaled to the system."""
    k = SYSTEM["scale"]
    r = lambda *xs: ",".join(str(int(x * k)) for x in xs)
    return {
        "ramp": ("capacity-ramp.js", {"START_RATE": r(5), "MAX_RATE": r(80), "RAMP": "75s"}, 85, True),
        # The same open ramp from a script whose iterations sleep after their request, as many
        # arrival-rate scripts do: each VU is busy for longer, k6 still sets the rate.
        "ramp-pause": ("capacity-ramp.js", {"START_RATE": r(5), "MAX_RATE": r(80), "RAMP": "75s",
                                            "PAUSE": str(SYSTEM["think_s"])}, 85, True),
        "vu-ramp": ("vu-ramp.js", {"MAX_VUS": str(SYSTEM.get("max_vus", 60)),
                                   "THINK": str(SYSTEM["think_s"]), "RAMP": "70s"},
                    85, False),
        "steps": ("steps.js", {"STEPS": r(20, 30, 40, 50, 60), "HOLD": "12s"}, 75, True),
        "burst": ("burst.js", {"BASE": r(15), "PEAK": r(70), "SPIKE": "15s", "SETTLE": "30s"}, 72,
                  True),
        "baseline": ("baseline.js", {"RATE": r(16), "DURATION": "60s"}, 62, True),
    }


SCENARIOS = scenarios()

# Pipeline variants: name → extra slitop-pipeline flags.
PIPELINES = {
    "default": [],
    "retain": ["--retain", "100000"],
    "drops5xx": ["--count-drops"],
    "noskip": ["--no-skip-expired"],
    # Consumers that read ten entries at a time: the backlog sits in their pending lists.
    "batch": ["--batch", "10"],
}

# Watchers: name → (kind, argument). Every watcher watches every run.
WATCHERS = {
    "hop": ("hop", None),
    "nvcf-scrape-1m": ("nvcf-scrape", "1m"),
    "nvcf-scrape-10s": ("nvcf-scrape", "10s"),
    "nvcf-prom-1s": ("nvcf-prom", "1s"),
    "nvcf-prom-5s": ("nvcf-prom", "5s"),
    "nvcf-prom-15s": ("nvcf-prom", "15s"),
    "k6": ("k6", None),
    "k6-api": ("k6-api", None),
}


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, limit, want=200):
    end = time.time() + limit
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == want:
                    return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


def wait_port(port, limit):
    end = time.time() + limit
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class Procs:
    """Everything a run started; stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self):
        self.procs = []

    def start(self, name, args, log_dir, **kw):
        log = open(os.path.join(log_dir, f"{name}.log"), "wb")
        p = subprocess.Popen(args, stdout=kw.pop("stdout", log), stderr=log, **kw)
        self.procs.append((name, p))
        return p

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def nvcf_config(root, window, out):
    """The nvcf preset with its `[1m]` ranges replaced by `window`."""
    text = open(os.path.join(root, "config", "nvcf.toml")).read()
    path = os.path.join(out, f"nvcf-{window}.toml")
    with open(path, "w") as f:
        f.write(text.replace("[1m]", f"[{window}]"))
    return path


def start_prometheus(bins, procs, interval, target, run_dir):
    port = free_port()
    d = os.path.join(run_dir, f"prom-{interval}")
    os.makedirs(d)
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
                f"scrape_configs:\n  - job_name: pipeline\n    static_configs:\n"
                f"      - targets: ['{target}']\n")
    procs.start(f"prometheus-{interval}", [
        bins["prometheus"], f"--config.file={cfg}", f"--storage.tsdb.path={d}/data",
        f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
        "--log.level=warn"], run_dir)
    if not wait_http(f"http://127.0.0.1:{port}/-/ready", 30):
        raise RuntimeError(f"prometheus ({interval}) did not become ready")
    return f"http://127.0.0.1:{port}"


def watcher_args(root, kind, arg, ctx):
    """slitop flags for one watcher."""
    k6 = ["--k6", ctx["k6_api"], "--k6-json", ctx["k6_json"]]
    if kind == "hop":
        return ["--preset", "valkey-hop", "--scrape", ctx["metrics"], "--valkey", ctx["valkey"],
                "--stream", "jobs"] + k6
    if kind == "nvcf-scrape":
        return ["--config", nvcf_config(root, arg, ctx["run_dir"]), "--scrape", ctx["metrics"]] + k6
    if kind == "nvcf-prom":
        return ["--preset", "nvcf", "--prometheus", ctx["prom"][arg]] + k6
    if kind == "k6-api":
        # k6's REST API alone, as a run started without a JSON output is watched.
        return ["--preset", "k6", "--k6", ctx["k6_api"]]
    return ["--preset", "k6"] + k6


def run_one(bins, root, pipeline, scenario, watchers, out):
    """One real run: the pipeline variant under the scenario, watched by every watcher."""
    script, env, seconds, _ = SCENARIOS[scenario]
    run_dir = os.path.join(out, f"{pipeline}.{scenario}")
    os.makedirs(run_dir)
    procs = Procs()
    ctx = {"run_dir": run_dir, "prom": {}}
    try:
        vport, hport, kport = free_port(), free_port(), free_port()
        procs.start("valkey", [bins["valkey"], "--bind", "127.0.0.1", "--port", str(vport),
                               "--save", "", "--appendonly", "no"], run_dir)
        if not wait_port(vport, 10):
            raise RuntimeError("valkey did not start")
        valkey = f"redis://127.0.0.1:{vport}"
        procs.start("pipeline", [
            bins["pipeline"], "--listen", f"127.0.0.1:{hport}", "--valkey", valkey,
            "--consumers", str(SYSTEM["consumers"]),
            "--service-time", f"{int(SYSTEM['service_s'] * 1000)}ms",
            "--distribution", SYSTEM["distribution"],
            "--jitter", f"{int(SYSTEM.get('jitter_s', 0) * 1000)}ms",
            "--hold-timeout", f"{int(HOLD_S)}s",
            "--access-log", os.path.join(run_dir, "access.jsonl")] + PIPELINES[pipeline], run_dir)
        if not wait_http(f"http://127.0.0.1:{hport}/healthz", 30):
            raise RuntimeError("pipeline did not start")
        ctx.update({"valkey": valkey, "metrics": f"http://127.0.0.1:{hport}/metrics",
                    "k6_api": f"http://127.0.0.1:{kport}",
                    "k6_json": os.path.join(run_dir, "k6.json")})
        for w in watchers:
            kind, arg = WATCHERS[w]
            if kind == "nvcf-prom" and arg not in ctx["prom"]:
                ctx["prom"][arg] = start_prometheus(bins, procs, arg, f"127.0.0.1:{hport}", run_dir)
        if ctx["prom"]:
            time.sleep(3)  # a first scrape before the load starts
        k6_args = [bins["k6"], "run", "--quiet", "--no-usage-report", "--address",
                   f"127.0.0.1:{kport}", f"--out=json={ctx['k6_json']}",
                   "-e", f"TARGET=http://127.0.0.1:{hport}"]
        for k, v in env.items():
            k6_args += ["-e", f"{k}={v}"]
        k6 = procs.start("k6", k6_args + [os.path.join(root, "config", "k6", script)], run_dir)
        if not wait_port(kport, 10):
            raise RuntimeError("k6 REST API did not come up")
        slitops = []
        for w in watchers:
            kind, arg = WATCHERS[w]
            wdir = os.path.join(run_dir, w)
            slitops.append(procs.start(f"slitop-{w}", [
                bins["slitop"], "--headless", "--duration", f"{seconds}s", "--out", wdir,
                "--refresh", "1s", "--scenario", scenario] + watcher_args(root, kind, arg, ctx),
                run_dir, stdout=subprocess.DEVNULL))
        for p in slitops:
            p.wait(timeout=seconds + 60)
        k6.wait(timeout=60)
        time.sleep(1)  # the access log's last lines
    finally:
        procs.stop()
        # Prometheus preallocates its WAL: never leave a data directory behind.
        for interval in ctx["prom"]:
            shutil.rmtree(os.path.join(run_dir, f"prom-{interval}", "data"), ignore_errors=True)
    return run_dir


# ---------------------------------------------------------------- ground truth

def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except FileNotFoundError:
        pass
    return out


def k6_time_ms(s):
    return int(datetime.fromisoformat(s).timestamp() * 1000)


def per_second(times_ms, t0, n):
    bins = [0] * n
    for t in times_ms:
        i = int((t - t0) // 1000)
        if 0 <= i < n:
            bins[i] += 1
    return bins


def moving_avg(xs, half):
    return [statistics.fmean(xs[max(0, i - half):i + half + 1]) for i in range(len(xs))]


def unqueued(log):
    """Latency (s) of each request that found a consumer free as it arrived (fewer requests in
    the system than consumers): the unloaded latency, service and hops without a wait. The
    first seconds of a run stand in for it badly where the wall comes early: a VU ramp that
    meets 3 consumers 11 s in has queued for seconds of them."""
    arrivals = sorted(e["arrival_ms"] for e in log)
    ends = sorted(e["end_ms"] for e in log)
    def in_system(t):
        return bisect.bisect_left(arrivals, t) - bisect.bisect_right(ends, t)
    return [(e["end_ms"] - e["arrival_ms"]) / 1000 for e in log
            if in_system(e["arrival_ms"]) < SYSTEM["consumers"]]


def truth(run_dir, open_loop):
    """What really happened, from the access log and k6's JSON output (times in Unix ms)."""
    log = [e for e in read_jsonl(os.path.join(run_dir, "access.jsonl")) if e.get("endpoint") == "/pexec"]
    if not log:
        return None
    t0 = min(e["arrival_ms"] for e in log) // 1000 * 1000
    n = (max(e["end_ms"] for e in log) - t0) // 1000 + 2
    arrivals = per_second([e["arrival_ms"] for e in log], t0, n)
    ok = [e for e in log if e["outcome"] == "ok"]
    done = per_second([e["end_ms"] for e in ok], t0, n)
    drops = sorted(e["end_ms"] for e in log if e["outcome"] == "dropped")
    # Latency of every request by the second it ended (a drop counts as its hold).
    lat = [[] for _ in range(n)]
    for e in log:
        i = (e["end_ms"] - t0) // 1000
        if 0 <= i < n:
            lat[i].append((e["end_ms"] - e["arrival_ms"]) / 1000)
    early = unqueued(log) or [SYSTEM["service_s"]]
    base = statistics.median(early)
    queued = [bool(xs) and statistics.median(xs) > 2 * base + 0.05 for xs in lat]
    t = {"t0": t0, "base_latency_s": base, "drops": len(drops)}
    t["rate_rises"] = t0 + 1000 * next((i for i, a in enumerate(done) if a > 0), 0)
    # Overload: requests wait in the queue (median latency over twice the unloaded one),
    # before the first drop (after it, workers skip or waste expired work).
    first_drop = drops[0] if drops else None
    over = [i for i in range(n) if queued[i] and (first_drop is None or t0 + 1000 * i < first_drop)]
    if len(over) >= 3:
        t["capacity"] = statistics.median(done[i] for i in over[1:])
    cap = t.get("capacity")
    vus = k6_vus(run_dir)
    if cap:
        if open_loop:
            ma = moving_avg(arrivals, 2)
            cross = next((i for i in range(n - 3) if all(ma[j] > cap for j in range(i, i + 3))), None)
            t["knee"] = cap
        else:
            # A closed loop offers VUs / (think + unloaded latency) requests per second: the
            # mean latency (where it varies, the median is well under it).
            per_vu = 1 / (SYSTEM["think_s"] + statistics.mean(early))
            cross_ms = next((tv for tv, v in vus if v * per_vu > cap), None)
            cross = None if cross_ms is None else (cross_ms - t0) // 1000
            t["knee"] = cap / per_vu
        if cross is not None:
            t["crossing"] = t0 + 1000 * cross
            # How long completions held at capacity: while the load stayed past the wall,
            # until the first drop (from then on the queue is older than a client waits, and
            # the work done for clients collapses). A plateau is completions seen flat over
            # whole sample intervals inside that.
            if open_loop:
                end = next((j for j in range(cross, n) if ma[j] <= cap), n)
            else:
                end = (max(tv for tv, v in vus if v * per_vu > cap) - t0) // 1000
            if first_drop is not None:
                end = min(end, (first_drop - t0) // 1000)
            t["overload_s"] = max(0, end - cross)
            for s in ("decoupled", "pending_climbs", "plateau"):
                t[s] = t["crossing"]
    p95 = [percentile([x for xs in lat[max(0, i - 4):i + 1] for x in xs], 0.95) for i in range(n)]
    # Above 500 ms for three seconds running: one slow request among the few of a second at
    # low load (exponential service times have a long tail) is not the latency rising.
    high = [p is not None and p > 0.5 for p in p95]
    hi = next((i for i in range(n - 2) if all(high[i:i + 3])), None)
    if hi is not None:
        t["p95_high"] = t0 + 1000 * hi
    err = first_client_error(run_dir)
    if err is not None:
        t["errors_visible"] = err
    return t


def percentile(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def k6_points(run_dir):
    for v in read_jsonl(os.path.join(run_dir, "k6.json")):
        if v.get("type") == "Point":
            yield v


def k6_vus(run_dir):
    return [(k6_time_ms(v["data"]["time"]), v["data"]["value"])
            for v in k6_points(run_dir) if v["metric"] == "vus"]


def first_client_error(run_dir):
    ts = [k6_time_ms(v["data"]["time"]) for v in k6_points(run_dir)
          if v["metric"] == "http_req_failed" and v["data"]["value"] == 1]
    return min(ts) if ts else None


# ---------------------------------------------------------------- slitop's side and the table

def slitop_side(wdir):
    first = {}
    for v in read_jsonl(os.path.join(wdir, "headless.jsonl")):
        if v.get("state") == "active" and v.get("stage") in STAGES:
            first.setdefault(v["stage"], v["t"])
    try:
        rep = json.load(open(os.path.join(wdir, "report.json")))
    except (OSError, ValueError):
        rep = {}
    knee = (rep.get("knee_at") or {}).get("load")
    return first, rep.get("capacity_rps"), knee


def pct(got, want):
    if got is None or not want:
        return None
    return 100 * (got - want) / want


def judge(row, tr, first, cap, knee, scenario, watcher):
    """Fills the row's cells and the goals it misses."""
    miss = []
    interval = {"nvcf-prom-5s": 5, "nvcf-prom-15s": 15}.get(watcher, 1)
    bound = 10 + (2 * interval if interval > 1 else 0)
    if scenario == "baseline":
        false = [s for s in STAGES[1:] if s in first]
        row["false"] = str(len(false))
        if false:
            miss.append("false " + ",".join(SHORT[s] for s in false))
    # Completions are seen flat over at least two whole sample intervals, which an overload
    # shorter than three of them may not hold (a 15 s burst through 15 s scrapes).
    short = tr.get("overload_s") is not None and tr["overload_s"] < 3 * interval
    for s in STAGES:
        if s == "plateau" and s not in first and s in tr and short:
            row[SHORT[s]] = "n/a"
        elif s == "p95_high" and s not in first and watcher == "k6-api":
            row[SHORT[s]] = "n/a"
        elif s in first and s in tr:
            row[SHORT[s]] = f"{(first[s] - tr[s]) / 1000:+.0f}"
        elif s in tr:
            row[SHORT[s]] = "miss"
            miss.append(f"{SHORT[s]} missed")
        elif s in first and scenario != "baseline":
            row[SHORT[s]] = "!" + f"{(first[s] - tr['t0']) / 1000:.0f}"
        elif scenario != "baseline":
            row[SHORT[s]] = "n/a"
    seen = [s for s in STAGES if s in first and s in tr]
    swapped = [(a, b) for a, b in zip(seen, seen[1:]) if first[a] > first[b]]
    # Two stages whose truths lie closer than the detection bound cannot be told apart in
    # order by any detector that meets it (a burst's p95 passes 500 ms a second after the
    # crossing, long before a plateau can be seen flat): noted, not a miss.
    late = [f"{SHORT[a]}>{SHORT[b]}" for a, b in swapped if tr[b] - tr[a] >= 1000 * bound]
    close = [f"{SHORT[a]}>{SHORT[b]}" for a, b in swapped if tr[b] - tr[a] < 1000 * bound]
    if late:
        miss.append("order(" + ",".join(late) + ")")
    if "decoupled" in first and "decoupled" in tr:
        if (first["decoupled"] - tr["decoupled"]) / 1000 > bound:
            miss.append(f"dec>{bound}s")
    c, k = pct(cap, tr.get("capacity")), pct(knee, tr.get("knee"))
    row["cap%"] = "-" if c is None else f"{c:+.0f}"
    row["knee%"] = "-" if k is None else f"{k:+.0f}"
    if tr.get("capacity") and scenario != "baseline":
        if c is None or abs(c) > 5:
            miss.append("cap")
        if k is None or abs(k) > 10:
            miss.append("knee")
    row["goals"] = ("ok" if not miss else " ".join(miss)) + "".join(f" ~{c}" for c in close)


def table(rows):
    cols = ["pipeline", "watcher", "scenario", "rate", "dec", "pend", "plat", "p95", "err",
            "cap%", "knee%", "false", "goals"]
    widths = {c: max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines.append("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        lines.append("  ".join(str(r.get(c, "-")).ljust(widths[c]) for c in cols))
    return "\n".join(lines)


def rejudge(slitop, out, runs):
    """Each watcher's recording through this slitop's signals and detector (same raw data)."""
    for pipeline, scenario, watchers in runs:
        for w in watchers:
            wdir = os.path.join(out, f"{pipeline}.{scenario}", w)
            recs = [os.path.join(wdir, f) for f in ("recording.jsonl.zst", "recording.jsonl")]
            rec = next((r for r in recs if os.path.exists(r)), None)
            if rec is None:
                continue
            dest = os.path.join(wdir, "rejudged")
            shutil.rmtree(dest, ignore_errors=True)
            subprocess.run([slitop, "replay", rec, "--headless", "--out", dest],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def analyse(out, runs, sub=None):
    rows, notes = [], []
    for pipeline, scenario, watchers in runs:
        run_dir = os.path.join(out, f"{pipeline}.{scenario}")
        tr = truth(run_dir, SCENARIOS[scenario][3])
        for w in watchers:
            # A run recorded before a watcher was added to the bench was not watched by it.
            if tr is not None and not os.path.isdir(os.path.join(run_dir, w)):
                continue
            row = {"pipeline": pipeline, "watcher": w, "scenario": scenario}
            if tr is None:
                row["goals"] = "no access log"
            else:
                wdir = os.path.join(run_dir, w, *([sub] if sub else []))
                judge(row, tr, *slitop_side(wdir), scenario, w)
            rows.append(row)
        if tr:
            notes.append(truth_note(pipeline, scenario, tr))
    return rows, notes


def truth_note(pipeline, scenario, tr):
    """One line of what the system showed, and why a stage has no truth (n/a)."""
    rel = lambda k: f"+{(tr[k] - tr['t0']) / 1000:.0f}s" if k in tr else "never"
    unit = "VUs" if not SCENARIOS[scenario][3] else "req/s"
    why = []
    if "crossing" not in tr:
        why.append("offered load never above capacity: no dec/pend/plat")
    if "p95_high" not in tr:
        why.append("p95 never above 500 ms")
    if "errors_visible" not in tr:
        why.append("no client error (no request dropped)" if not tr["drops"] else "no client error")
    cap = tr.get("capacity")
    knee = tr.get("knee")
    return (f"{pipeline}.{scenario}: capacity {'-' if cap is None else f'{cap:.1f} req/s'}, knee "
            f"{'-' if knee is None else f'{knee:.1f} {unit}'}, crossing {rel('crossing')}"
            + (f" (held at capacity {tr['overload_s']}s)" if "overload_s" in tr else "") + ", "
            f"p95>500ms {rel('p95_high')}, first client error {rel('errors_visible')}, "
            f"{tr['drops']} dropped" + (f"; n/a: {'; '.join(why)}" if why else ""))


def matrix(only):
    """(pipeline, scenario, watchers) to run; `only` patterns match `pipeline.scenario.watcher`."""
    runs = []
    for p in PIPELINES:
        for s in SCENARIOS:
            ws = [w for w in WATCHERS
                  if not only or any(fnmatch.fnmatch(f"{p}.{s}.{w}", pat) for pat in only)]
            if ws:
                runs.append((p, s, ws))
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated globs over pipeline.scenario.watcher")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--analyse-only", action="store_true", help="re-read an earlier --out")
    ap.add_argument("--rejudge", action="store_true",
                    help="replay an earlier --out's recordings through this slitop, then analyse")
    ap.add_argument("--bin", action="append", default=[], help="NAME=PATH")
    ap.add_argument("--system", choices=sorted(SYSTEMS),
                    help="system under test (default ref; an earlier --out keeps its own)")
    a = ap.parse_args()
    # The system is written with the runs, so judging them again uses its truth.
    saved = os.path.join(a.out, "system.json")
    name = a.system or (json.load(open(saved)).get("name") if os.path.exists(saved) else "ref")
    global SCENARIOS
    SYSTEM.clear()
    SYSTEM.update(SYSTEMS[name], name=name)
    SCENARIOS = scenarios()
    runs = matrix([p for p in a.only.split(",") if p])
    if not runs:
        print(f"--only {a.only!r} matches no pipeline.scenario.watcher (see --list)", file=sys.stderr)
        return 2
    if a.list:
        for p, s, ws in runs:
            print(f"{p}.{s}: {' '.join(ws)}")
        return 0
    bins = dict(b.split("=", 1) for b in a.bin)
    if a.rejudge:
        rejudge(bins["slitop"], a.out, runs)
    elif not a.analyse_only:
        os.makedirs(a.out, exist_ok=True)
        with open(saved, "w") as f:
            json.dump(SYSTEM, f)
        for i, (p, s, ws) in enumerate(runs):
            print(f"# run {i + 1}/{len(runs)}: {p}.{s} watched by {', '.join(ws)}", file=sys.stderr)
            run_one(bins, a.root, p, s, ws, a.out)
    rows, notes = analyse(a.out, runs, "rejudged" if a.rejudge else None)
    print(table(rows))
    print("\nCells: confirmation - truth (s); miss = never confirmed; !N = raised N s into a run "
          "whose data never showed it; n/a = the data cannot show it (below; a plateau is seen "
          "flat over two whole sample intervals, which completions held at capacity for less "
          "than three do not allow). The detection bound "
          "is 10 s on 1 s samples, 2 scrapes + 10 s through 5 s and 15 s Prometheus. Goals: "
          "decoupled within the bound; every stage in order (~a>b: confirmed out of order where "
          "the truths of a and b lie closer than the bound, which no detector meeting it can "
          "order: noted, not missed); capacity within 5%; knee within 10% (req/s open loop, VUs "
          "closed loop); no stage but rate on the baseline. k6 alone has no server metrics: "
          "pending comes only from client VUs; its REST API alone (k6-api) reports no windowed "
          "percentile, so no p95 (n/a).")
    jitter = f" +-{SYSTEM['jitter_s'] * 1000:.0f} ms" if SYSTEM.get("jitter_s") else ""
    print(f"System: {SYSTEM['name']}: {SYSTEM['consumers']} consumers x "
          f"{SYSTEM['service_s'] * 1000:.0f} ms{jitter} {SYSTEM['distribution']}, VUs think "
          f"{SYSTEM['think_s'] * 1000:.0f} ms, rates x{SYSTEM['scale']}.")
    print("Truth (access log, k6 JSON):")
    for n in notes:
        print("  " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
