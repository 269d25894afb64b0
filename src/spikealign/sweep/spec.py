"""One run of a sweep: a kind (which simulator), a resolved config and a run directory.

A :class:`RunSpec` is plain data (it travels to Dask workers as a dict). Its ``config`` is the
fully resolved, validated config as JSON-able data, so ``config_hash`` identifies what the run
computes: a finished run directory is reused only when its hash matches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


def config_hash(kind: str, config: dict) -> str:
    """Stable 16-hex-digit hash of ``(kind, config)`` (canonical JSON, sorted keys)."""
    text = json.dumps({"kind": kind, "config": config}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_dir_name(index: int) -> str:
    return f"run.{index:04d}"


@dataclass(frozen=True)
class RunSpec:
    """What one task computes and where it writes.

    ``part``: the sub-directory of the sweep (e.g. ``syn_noise_sal``); ``index``: the run
    number inside the part (upstream ``exp.NNNN``); ``runner``: ``"module:function"`` called
    as ``fn(config, run_dir, label=...)``; ``params``: the swept values (noise level, seeds),
    for tables and figures; ``cost``: estimated seconds on one core (scheduling priority).
    """

    part: str
    index: int
    kind: str
    runner: str
    config: dict
    params: dict = field(default_factory=dict)
    cost: float = 1.0

    @property
    def rel_dir(self) -> str:
        return f"{self.part}/{run_dir_name(self.index)}"

    @property
    def label(self) -> str:
        return f"{self.part}#{self.index}"

    @property
    def hash(self) -> str:
        return config_hash(self.kind, self.config)

    def to_dict(self) -> dict:
        return {**asdict(self), "config_hash": self.hash}

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        return cls(
            part=d["part"],
            index=int(d["index"]),
            kind=d["kind"],
            runner=d["runner"],
            config=d["config"],
            params=dict(d.get("params", {})),
            cost=float(d.get("cost", 1.0)),
        )
