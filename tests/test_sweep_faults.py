"""Fault tolerance with real processes: a `dask scheduler` with two `dask worker`s used through
``--scheduler`` (one worker killed mid-run), and the client killed with SIGKILL mid-sweep."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spikealign.io import read_status
from spikealign.sweep.presets import build_specs

pytest.importorskip("distributed")

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {
    **os.environ,
    "SPIKEALIGN_QUIET": "1",
    "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
}
LONGER = ["--set", "num_epochs=2001"]  # tiny runs of about 2 s, so kills land mid-run
SPECS = build_specs(["tiny"], overrides={"num_epochs": 2001})[1]


def dask_cmd(sub: str) -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    if exe.is_file():
        return [str(exe), sub]
    return [sys.executable, "-m", f"distributed.cli.dask_{sub}"]


def spawn(cmd, **kw):
    return subprocess.Popen(
        cmd,
        env=ENV,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def sweep_cmd(out, *extra):
    return [
        sys.executable,
        "-m",
        "spikealign",
        "sweep",
        "run",
        "tiny",
        "--out",
        str(out),
        "--no-figures",
        *LONGER,
        *extra,
    ]


def states(out) -> dict:
    return {
        s.index + 100 * ["tiny", "tiny_sal", "tiny_kp"].index(s.part): (
            read_status(out / s.rel_dir) or {}
        ).get("state")
        for s in SPECS
    }


def log_lines(run_dir) -> list[str]:
    p = Path(run_dir) / "log.txt"
    return p.read_text().splitlines() if p.is_file() else []


def wait_for(pred, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_results_readable(out):
    for s in SPECS:
        for name in ("results.npz", "checkpoint.npz"):
            p = out / s.rel_dir / name
            if p.exists():
                with np.load(p) as f:
                    for key in f.files:
                        f[key]  # noqa: B018 - reading every array proves the file is whole
        st = out / s.rel_dir / "status.json"
        if st.exists():
            json.loads(st.read_text())


@pytest.mark.timeout(240)
def test_remote_scheduler_two_workers_one_killed_mid_run(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(
            spawn(
                dask_cmd("scheduler")
                + [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(sched_file),
                ]
            )
        )
        wait_for(sched_file.is_file, 60, "the scheduler file")
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        workers = [
            spawn(
                dask_cmd("worker")
                + [
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--name",
                    f"w{k}",
                ]
            )
            for k in range(2)
        ]
        procs += workers
        out = tmp_path / "sw"
        client = spawn(sweep_cmd(out, "--scheduler", address))
        procs.append(client)
        victim = workers[0]

        def victim_mid_run():  # a run whose last log line is a start on the victim
            for s in SPECS:
                lines = log_lines(out / s.rel_dir)
                if lines and f":{victim.pid} worker" in lines[-1] and " start " in lines[-1]:
                    return s
            return None

        lost = wait_for(victim_mid_run, 120, "a run on the first worker")
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        text = client.communicate(timeout=180)[0]
        assert client.returncode == 0, text
        assert f"using the Dask scheduler at {address}" in text
        assert set(states(out).values()) == {"done"}
        lines = log_lines(out / lost.rel_dir)
        assert sum(" start " in x for x in lines) == 2, lines  # retried on the other worker
        assert f":{workers[1].pid} worker" in lines[-2] and "done in" in lines[-1]
        assert_results_readable(out)
    finally:
        for p in procs:
            kill_group(p)


@pytest.mark.timeout(240)
def test_client_sigkill_then_rerun_executes_only_unfinished_runs(tmp_path):
    out = tmp_path / "sw"
    client = spawn(sweep_cmd(out, "--workers", "2"))
    try:

        def some_done_some_running():
            st = states(out)
            done = sum(v == "done" for v in st.values())
            return done >= 3 and "running" in st.values() and done < 10

        wait_for(some_done_some_running, 150, "a sweep in progress")
        os.kill(client.pid, signal.SIGKILL)  # the client only; its local workers follow it
        client.wait(timeout=30)
    finally:
        time.sleep(1.0)
        kill_group(client)
    before = states(out)
    done_before = {k for k, v in before.items() if v == "done"}
    assert 3 <= len(done_before) < 12
    assert_results_readable(out)
    starts_before = {
        s.rel_dir: sum(" start " in x for x in log_lines(out / s.rel_dir)) for s in SPECS
    }
    rerun = subprocess.run(
        sweep_cmd(out, "--workers", "2"), env=ENV, capture_output=True, text=True, timeout=200
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    m = re.search(r"12 runs \((.*)\); (\d+) to run", rerun.stdout)
    assert m and int(m.group(2)) == 12 - len(done_before), rerun.stdout
    assert set(states(out).values()) == {"done"}
    for s in SPECS:
        key = s.index + 100 * ["tiny", "tiny_sal", "tiny_kp"].index(s.part)
        starts = sum(" start " in x for x in log_lines(out / s.rel_dir))
        if key in done_before:
            assert starts == starts_before[s.rel_dir] == 1, s.rel_dir  # not executed again
        else:
            assert starts == starts_before[s.rel_dir] + 1, s.rel_dir
    assert_results_readable(out)
    status = subprocess.run(
        [sys.executable, "-m", "spikealign", "sweep", "status", str(out)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0 and "all runs done" in status.stdout
