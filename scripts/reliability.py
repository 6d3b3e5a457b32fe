#!/usr/bin/env python3
"""Full-size reliability runs of the pattern-guard binary; figures for docs/RELIABILITY.md.

    bash scripts/reliability.sh            # builds the release binary, then runs this
    python3 scripts/reliability.py BIN [--rounds 20] [--kills 500] [--orphans 100]

1. concurrency: 64 wrappers at once on one state, ROUNDS rounds; after each round the state must
   load cleanly and hold exactly 64 more events.
2. crash safety: a history of 10,000 events, then KILLS wrappers SIGKILLed at random moments
   (0 to 6 ms after start, which covers load, check, append and compaction); after each kill the
   state must load cleanly and hold the old or the new count, never anything else.
3. orphans: ORPHANS wrappers SIGKILLed while their child runs (the child must go), and ORPHANS
   runaways with a grandchild stopped by --max-runtime (both must go).
Exits non-zero on the first violation.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

OPEN = """[guard]
window_secs = 86400
burst_max_events = 1000000
repetition_max_count = 1000000
hopping_max_targets = 1000000
max_events_per_actor = 2000000
weight_max_total = 1e15
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.005)
    return False


def wait_file(path, seconds=20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text
        except OSError:
            pass
        time.sleep(0.002)
    raise SystemExit(f"{path} never appeared")


class Env:
    def __init__(self, binary, work):
        self.bin = binary
        self.work = work
        self.state = os.path.join(work, "state")
        self.config = os.path.join(work, "open.toml")
        with open(self.config, "w") as f:
            f.write(OPEN)
        self.env = dict(os.environ, PATTERN_GUARD_STATE_DIR=self.state)
        for var in ("PATTERN_GUARD_CONFIG", "PATTERN_GUARD_ACTOR", "RUST_LOG"):
            self.env.pop(var, None)

    def argv(self, *rest):
        return [self.bin, "--config", self.config, *rest]

    def spawn(self, *rest, **kw):
        return subprocess.Popen(self.argv(*rest), env=self.env, stdout=subprocess.DEVNULL, **kw)

    def events(self):
        out = subprocess.run(self.argv("status", "cli", "--json"), env=self.env,
                             capture_output=True, text=True)
        if out.returncode != 0 or out.stderr:
            raise SystemExit(f"state did not load cleanly: {out.returncode} {out.stderr!r}")
        rows = json.loads(out.stdout)
        return rows[0]["events_in_window"] if rows else 0

    def bad_files(self):
        if not os.path.isdir(self.state):
            return []
        return [n for n in os.listdir(self.state) if ".bad-" in n]


def concurrency(e, rounds):
    started = time.monotonic()
    for r in range(1, rounds + 1):
        procs = [e.spawn("--", "true") for _ in range(64)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"round {r}: exit codes {sorted(set(codes))}")
        n = e.events()
        if n != 64 * r:
            raise SystemExit(f"round {r}: {n} events, expected {64 * r}")
    if e.bad_files():
        raise SystemExit(f"set aside: {e.bad_files()}")
    took = time.monotonic() - started
    print(f"concurrency: {rounds} rounds x 64 wrappers at once: {64 * rounds} runs, "
          f"{64 * rounds} events recorded, 0 lost, state loaded cleanly after every round ({took:.1f} s)")


def crashes(e, kills, seed):
    rng = random.Random(seed)
    subprocess.run(e.argv("--repeat", "10000", "--", "true"), env=e.env, check=True,
                   stdout=subprocess.DEVNULL)
    before = e.events()
    if before != 10000:
        raise SystemExit(f"seeding: {before} events")
    kept_old = kept_new = 0
    for i in range(kills):
        p = e.spawn("--", "true")
        time.sleep(rng.uniform(0, 0.006))
        p.send_signal(signal.SIGKILL)
        p.wait()
        after = e.events()
        if after == before:
            kept_old += 1
        elif after == before + 1:
            kept_new += 1
        else:
            raise SystemExit(f"kill {i}: {before} events before, {after} after: torn")
        before = after
    if e.bad_files():
        raise SystemExit(f"set aside: {e.bad_files()}")
    tmp = [n for n in os.listdir(e.state) if ".tmp-" in n]
    print(f"crash safety: {kills} wrappers SIGKILLed 0-6 ms after start on a 10,000-event history: "
          f"state always loaded; {kept_old} kept the old version, {kept_new} the new, 0 torn, "
          f"0 set aside ({len(tmp)} temp file(s) of killed compactions waiting for the next one)")


def orphans(e, runs):
    for i in range(runs):
        pidfile = os.path.join(e.work, f"child-{i}")
        p = e.spawn("--", "sh", "-c", f"echo $$ > {pidfile}; exec sleep 300")
        pid = int(wait_file(pidfile))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if not gone_within(pid):
            raise SystemExit(f"run {i}: child {pid} outlived its SIGKILLed wrapper")
    print(f"orphans, wrapper SIGKILLed: {runs} runs, 0 children left running")
    left = 0
    for i in range(runs):
        pidfile = os.path.join(e.work, f"tree-{i}")
        script = (f"sleep 300 & a=$!; (trap '' TERM; sleep 300) & b=$!; "
                  f"echo \"$$ $a $b\" > {pidfile}; wait")
        code = subprocess.run(e.argv("--max-runtime", "0.2s", "--kill-after", "0.2s", "--",
                                     "sh", "-c", script),
                              env=e.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
        if code not in (124, 137):
            raise SystemExit(f"runaway {i}: exit {code}")
        for pid in map(int, wait_file(pidfile).split()):
            if not gone_within(pid):
                left += 1
    if left:
        raise SystemExit(f"{left} processes left behind by runaways")
    print(f"orphans, runaway with grandchildren (one ignoring SIGTERM): {runs} runs, "
          f"{3 * runs} processes, 0 left behind")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--kills", type=int, default=500)
    ap.add_argument("--orphans", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        concurrency(Env(a.binary, work), a.rounds)
    with tempfile.TemporaryDirectory() as work:
        crashes(Env(a.binary, work), a.kills, a.seed)
    with tempfile.TemporaryDirectory() as work:
        orphans(Env(a.binary, work), a.orphans)


if __name__ == "__main__":
    sys.exit(main())
