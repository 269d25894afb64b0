"""``spikealign sweep status DIR``: what is done, failed, running, interrupted or missing.

Every finished run's result files are verified against their checksums
(:func:`spikealign.rundir.inspect`); a damaged one counts as failed and is listed by its path.

The time left is the cost model's estimate (:mod:`spikealign.sweep.kinds`, the seconds each
run's manifest entry records) rescaled by what the finished runs of this sweep actually cost:
per part, ``factor = sum(measured CPU s) / sum(model s)`` over its finished runs (a part with
none takes the factor of all finished runs of the sweep; none at all: factor 1). The CPU time
of one run differs by up to a quarter between hosts and load (the same paper-scale
``plast_noise`` run measured 171 s and 204 s of CPU on average in two sessions here), which a
fixed model cannot know and the runs of the sweep itself do.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from ..io import read_json, read_status
from .layout import read_manifest
from .tasks import run_info

STATES = ("done", "failed", "running", "interrupted", "missing")


def _metric(run_dir: Path, key: str):
    return (read_json(run_dir / "metrics.json") or {}).get(key)


def _seconds(value) -> float:
    """A recorded time in seconds, or 0 where it is missing or not a finite number >= 0 (a
    hand-edited or foreign status file must not break the summary)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


def summarize(out) -> dict:
    """Per part: counts by state, CPU time of finished runs, failed runs with their error."""
    out = Path(out)
    man = read_manifest(out)
    if man is None:
        raise FileNotFoundError(
            f"{out}: not a sweep directory (no sweep.json); "
            "start one with `spikealign sweep run PRESET --out DIR`"
        )
    parts = {}
    for name, entry in man["parts"].items():
        counts = dict.fromkeys(STATES, 0)
        cpu_s = 0.0
        remaining_s = 0.0
        done_model_s = done_measured_s = 0.0
        failed = []
        for r in entry["runs"]:
            run_dir = out / name / r["dir"]
            info = run_info(run_dir, r["config_hash"], entry.get("kind"))
            state = {"conflict": "interrupted", "damaged": "failed"}.get(info.state, info.state)
            counts[state] += 1
            if state == "done":
                st = read_status(run_dir) or {}
                measured = _seconds(st.get("cpu_s")) or _seconds(_metric(run_dir, "runtime_s"))
                cpu_s += measured
                if measured > 0 and r.get("cost_s", 0.0) > 0:
                    done_model_s += r["cost_s"]
                    done_measured_s += measured
            else:
                remaining_s += r.get("cost_s", 0.0)
            if state == "failed":
                failed.append(
                    {"run": str(run_dir), "error": info.error(), "damaged": info.problems}
                )
        parts[name] = {
            "runs": len(entry["runs"]),
            **counts,
            "cpu_s": cpu_s,
            "model_remaining_cpu_s": remaining_s,
            "_done_model_s": done_model_s,
            "_done_measured_s": done_measured_s,
            "failed_runs": failed,
            "scale": entry.get("scale"),
            "figure": entry.get("figure"),
            "overrides": entry.get("overrides") or {},
        }
    sweep_factor = _calibrate(parts)
    total = {
        k: sum(p[k] for p in parts.values())
        for k in ("runs", *STATES, "cpu_s", "model_remaining_cpu_s", "estimated_remaining_cpu_s")
    }
    total["cost_factor"] = sweep_factor
    last = (man.get("history") or [{}])[-1]
    return {"dir": str(out), "parts": parts, "total": total, "last_command": last}


def _calibrate(parts: dict) -> float | None:
    """Set each part's ``cost_factor`` (measured / model CPU of its finished runs, or of all
    finished runs of the sweep where the part has none, else ``None``) and
    ``estimated_remaining_cpu_s`` (the model's remaining seconds times that factor); return
    the factor of the whole sweep."""
    model_all = sum(p["_done_model_s"] for p in parts.values())
    measured_all = sum(p["_done_measured_s"] for p in parts.values())
    sweep_factor = measured_all / model_all if model_all > 0 else None
    for p in parts.values():
        own = p["_done_measured_s"] / p["_done_model_s"] if p["_done_model_s"] > 0 else None
        p["cost_factor"] = own if own is not None else sweep_factor
        p["estimated_remaining_cpu_s"] = p["model_remaining_cpu_s"] * (p["cost_factor"] or 1.0)
        del p["_done_model_s"], p["_done_measured_s"]
    return sweep_factor


def _flat(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        out += _flat(v, key + ".") if isinstance(v, dict) else [f"{key}={json.dumps(v)}"]
    return out


def rerun_commands(summary: dict) -> list[str]:
    """``spikealign sweep run`` commands that finish every part with unfinished runs (the
    part names are presets; scale and ``--set`` values as recorded in the manifest)."""
    groups: dict[tuple, list[str]] = {}
    for name, p in summary["parts"].items():
        if p["failed"] + p["interrupted"] + p["missing"]:
            key = (p.get("scale") or "paper", json.dumps(p.get("overrides") or {}, sort_keys=True))
            groups.setdefault(key, []).append(name)
    cmds = []
    for (scale, over), names in groups.items():
        sets = "".join(f" --set {shlex.quote(x)}" for x in _flat(json.loads(over)))
        cmds.append(
            f"spikealign sweep run {' '.join(names)} --out "
            f"{shlex.quote(summary['dir'])} --scale {scale}{sets}"
        )
    return cmds


def format_duration(s: float) -> str:
    """``s`` seconds as seconds, minutes or hours, whichever reads best."""
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def format_summary(summary: dict, max_failed: int = 10) -> str:
    lines = [f"sweep {summary['dir']}"]
    rows = list(summary["parts"].items()) + [("total", summary["total"])]
    w = max([18] + [len(name) + 1 for name, _ in rows])  # long part names stay aligned
    head = f"{'part':<{w}}{'scale':>7}{'runs':>6}" + "".join(f"{s:>12}" for s in STATES)
    lines.append(head + f"{'CPU time':>11}")
    for name, p in rows:
        scale = p.get("scale") or ""
        lines.append(
            f"{name:<{w}}{scale:>7}{p['runs']:>6}"
            + "".join(f"{p[s]:>12}" for s in STATES)
            + f"{format_duration(p['cpu_s']):>11}"
        )
    failed = [f for p in summary["parts"].values() for f in p["failed_runs"]]
    for f in failed[:max_failed]:
        where = "" if f.get("damaged") else "  (traceback: error.txt)"
        lines.append(f"failed: {f['run']}: {f['error']}{where}")
    if len(failed) > max_failed:
        lines.append(f"... and {len(failed) - max_failed} more failed runs")
    t = summary["total"]
    todo = t["failed"] + t["interrupted"] + t["missing"]
    if todo:
        eta = format_duration(t["estimated_remaining_cpu_s"])
        f = t.get("cost_factor")
        basis = (
            "cost model"
            if f is None
            else f"cost model x {f:.2f}, the measured / modelled CPU time of the finished runs"
        )
        lines.append(
            f"{todo} runs to (re)run, about {eta} on one core ({basis}): "
            + "; ".join(f"`{c}`" for c in rerun_commands(summary))
        )
    elif t["running"] == 0:
        lines.append("all runs done")
    return "\n".join(lines)
