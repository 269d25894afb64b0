"""Inputs of the simulator API and numbers in configs (issue 18).

The simulator API (``simulate``, ``phase_statistics``, ``Chain``, ``Chain.run``,
``Chain.restore``, ``SimParams``) checks its arguments where they enter and raises TypeError
(wrong kind) or ValueError (wrong value) naming the argument, before any compiled code runs:
every case here runs with the engine's entry points replaced by a function that raises
:class:`EngineReached` (:func:`no_engine`), and must also return within :data:`FAST_S`. The
configs refuse phases and spike rings the engine cannot simulate, naming the field. ``--set``
values and YAML files read numbers in the usual notation (``1e-3``) as numbers, through one
parser; non-finite ones are refused by validation.

Each class of problem has a list of cases (:data:`CLASSES`, bad inputs and inputs that must
still be accepted) and one test; the property tests draw more of each class with hypothesis.
:func:`tally` counts the cases each class holds (``python -c "import tests.test_api_inputs as
t; t.report()"``), which also runs against an older checkout to compare.
"""

from __future__ import annotations

import contextlib
import decimal
import fractions
import io
import math
import os
import random
import shutil
import tempfile
import time
from collections import namedtuple
from functools import cache
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spikealign.config import ConfigError, load_yaml, parse_set_value
from spikealign.sim import Chain, SimParams, phase_statistics, simulate
from spikealign.stdp import tri_window

#: the longest phase and the most latest spikes per neuron (spikealign.limits, checked below)
PHASE = 2**49
LAST = 1024
#: a refused input returns within this many seconds of CPU time (compiling the engine takes
#: seconds); CPU time, not wall time, so that a busy machine does not fail the check
FAST_S = 1.0
PROPERTY = settings(
    max_examples=int(os.environ.get("SPIKEALIGN_INPUT_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class EngineReached(Exception):
    """The call got past the checks into the engine (compiled code, or the reference loop)."""


#: the names through which spikealign.sim reaches compiled code or simulates
ENGINE_ENTRIES = (
    "run_phase",
    "advance",
    "new_state",
    "refresh",
    "begin_part",
    "make_rules",
    "simulate_reference",
    "_stepwise",
)


@contextlib.contextmanager
def no_engine():
    def reached(*args, **kwargs):
        raise EngineReached

    with mock.patch.multiple("spikealign.sim", **dict.fromkeys(ENGINE_ENTRIES, reached)):
        yield


def outcome(thunk, ctx):
    """``(what happened, CPU seconds)``: the exception raised, or "engine", or "returned"."""
    t0 = time.process_time()
    try:
        with no_engine():
            thunk(ctx)
    except EngineReached:
        result = "engine"
    except Exception as exc:  # noqa: BLE001 - the outcome is what is tested
        result = exc
    else:
        result = "returned"
    return result, time.process_time() - t0


#: a case: ``thunk(ctx)`` must raise ``want`` (an exception type) with one of ``names`` in its
#: message, or, with ``want`` None, be accepted (reach the engine or return)
Case = namedtuple("Case", "label thunk want names")


def bad(label, thunk, want, *names):
    return Case(label, thunk, want, names)


def ok(label, thunk):
    return Case(label, thunk, None, ())


def judge(case: Case, ctx) -> str | None:
    """None if ``case`` holds, else what went wrong."""
    result, seconds = outcome(case.thunk, ctx)
    if case.want is None:
        if isinstance(result, Exception):
            return f"refused: {type(result).__name__}: {result}"
        return None
    if not isinstance(result, Exception):
        return f"accepted ({result})"
    if not isinstance(result, case.want):
        return f"{type(result).__name__} instead of {case.want.__name__}: {result}"
    if not any(name in str(result) for name in case.names):
        return f"the message does not name {' or '.join(case.names)}: {result}"
    if seconds > FAST_S:
        return f"took {seconds:.2f} s"
    return None


# -- the network the cases change one argument of --------------------------------------------

N = 3
P = SimParams(t_ref=10, tau_syn=10)


def W0():
    return np.zeros((N, N))


def b0():
    return np.full(N, -1.0)


def rng():
    return np.random.default_rng(0)


@cache
def context() -> dict:
    """A real chain (compiled once, outside :func:`no_engine`) and its saved state."""
    W, b = np.array([[0.0, 1.5, -1.0], [1.0, 0.0, 0.5], [-0.5, 2.0, 0.0]]), np.zeros(N)
    chain = Chain(W, b, P, np.random.default_rng(1), n_last_stdp=2)
    chain.run(1234)
    return {"W": W, "b": b, "chain": chain, "saved": chain.state_arrays()}


POSITIONAL = ("W", "b", "n_steps", "params", "rng")
CHAIN_ARGS = {"W", "b", "params", "rng", "clamp", "n_last_stdp"}
RUN_ARGS = {"n_steps", "windows", "sample_every", "record"}


def calls(**kw):
    """``(where, thunk)`` for every entry point that takes the arguments ``kw`` (the others
    valid): simulate, phase_statistics on each engine, Chain, Chain.run."""
    args = {"W": W0(), "b": b0(), "n_steps": 100, "params": P, "rng": rng()}
    args.update({k: v for k, v in kw.items() if k in POSITIONAL})
    pos = [args[k] for k in POSITIONAL]
    extra = {k: v for k, v in kw.items() if k not in POSITIONAL}
    rest = {k: v for k, v in extra.items() if k != "engine"}
    out = []
    if not rest:
        out.append(("simulate", lambda ctx: simulate(*pos, **extra)))
    for e in [extra["engine"]] if "engine" in extra else ["fast", "reference", "stepwise"]:
        out.append(
            (f"phase_statistics[{e!r}]", lambda ctx, e=e: phase_statistics(*pos, engine=e, **rest))
        )
    if set(kw) <= CHAIN_ARGS:
        out.append(
            ("Chain", lambda ctx: Chain(args["W"], args["b"], args["params"], args["rng"], **extra))
        )
    if set(kw) <= RUN_ARGS:
        run_kw = {k: v for k, v in kw.items() if k != "n_steps"}
        out.append(("Chain.run", lambda ctx: ctx["chain"].run(kw.get("n_steps", 100), **run_kw)))
    return out


def api_cases(label, want, names, **kw):
    return [bad(f"{where}: {label}", thunk, want, *names) for where, thunk in calls(**kw)]


def api_ok(label, **kw):
    return [ok(f"{where}: {label}", thunk) for where, thunk in calls(**kw)]


# -- class 1: integer arguments (a float step count was truncated) ----------------------------

NOT_INTEGERS = [
    100.0,
    1e3,
    2.5,
    True,
    False,
    "100",
    None,
    100 + 0j,
    np.float64(100),
    np.float32(7),
    fractions.Fraction(100),
    decimal.Decimal(100),
    [100],
    np.array([100]),
    np.array(100.0),
    np.bool_(True),
]
NUMPY_INTEGERS = [np.int64(100), np.int32(100), np.uint16(100), np.int8(5), np.array(100), 0]


def integer_cases():
    out = []
    for v in NOT_INTEGERS:
        out += api_cases(f"n_steps={v!r}", TypeError, ["n_steps"], n_steps=v)
    for name, v in (
        ("n_last_stdp", 1.0),
        ("n_last_stdp", True),
        ("sample_every", 2.0),
        ("sample_every", "5"),
        ("n_last_stdp", np.float64(2)),
    ):
        out += api_cases(f"{name}={v!r}", TypeError, [name], **{name: v})
    for name, v in (
        ("t_ref", 10.0),
        ("t_ref", True),
        ("t_ref", "10"),
        ("min_isi", 11.0),
        ("min_isi", np.float32(11)),
        ("n_last_psp", 2.0),
        ("n_last_psp", False),
    ):
        out.append(
            bad(
                f"SimParams({name}={v!r})",
                lambda ctx, n=name, v=v: SimParams(**{"t_ref": 10, "tau_syn": 10, n: v}),
                TypeError,
                name,
            )
        )
    for v in NUMPY_INTEGERS:
        out += api_ok(f"n_steps={v!r}", n_steps=v)
    out.append(
        ok(
            "SimParams(t_ref=np.int64(10), min_isi=np.int32(10), n_last_psp=np.uint8(2))",
            lambda ctx: SimParams(
                t_ref=np.int64(10), tau_syn=10, min_isi=np.int32(10), n_last_psp=np.uint8(2)
            ),
        )
    )
    return out


# -- class 2: arrays (dtype kinds, shapes, finiteness) -----------------------------------------


def _float128(x):
    return np.full((N, N), np.longdouble(x)) if np.finfo(np.longdouble).max > 1e400 else None


def array_cases():
    out = []
    kinds = {
        "bool": lambda a: a.astype(bool),
        "complex": lambda a: a.astype(complex),
        "object": lambda a: a.astype(object),
        "str": lambda a: a.astype(str),
    }
    for kind, f in kinds.items():
        out += api_cases(f"W of dtype {kind}", TypeError, ["W"], W=f(W0() + 1))
        out += api_cases(f"b of dtype {kind}", TypeError, ["b"], b=f(b0()))
    for label, W in (
        ("W (3, 2)", np.zeros((3, 2))),
        ("W 1-D", np.zeros(9)),
        ("W 3-D", np.zeros((3, 3, 1))),
        ("W scalar", 0.0),
        ("W ragged", [[0.0, 1.0], [0.0]]),
    ):
        out += api_cases(label, ValueError, ["W"], W=W)
    for label, v in (("nan", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
        out += api_cases(f"W with {label}", ValueError, ["W"], W=np.where(np.eye(N) > 0, v, 0.0))
        out += api_cases(f"b with {label}", ValueError, ["b"], b=np.array([0.0, v, 0.0]))
    if _float128(1e400) is not None:
        out += api_cases("W of float128 beyond float64", ValueError, ["W"], W=_float128("1e400"))
    out += api_cases("b scalar", ValueError, ["b"], b=0.0)
    for label, c, want in (
        ("bool", np.array([True, False, True]), TypeError),
        ("float", np.array([1.0, 0.0, -1.0]), TypeError),
        ("complex", np.array([1, 0, -1], complex), TypeError),
        ("object", np.array([1, 0, None], object), TypeError),
        ("value 2", np.array([2, 0, -1]), ValueError),
        ("value -2", [-2, 0, 0], ValueError),
        ("shape (2,)", [1, 0], ValueError),
        ("shape (3, 1)", [[1], [0], [-1]], ValueError),
    ):
        out += api_cases(f"clamp {label}", want, ["clamp"], clamp=c)
        out.append(
            bad(
                f"Chain.set_network: clamp {label}",
                lambda ctx, c=c: ctx["chain"].set_network(clamp=c),
                want,
                "clamp",
            )
        )
    for label, W, b in (
        ("W bool", W0().astype(bool), None),
        ("b complex", None, b0() + 0j),
        ("W nan", np.full((N, N), np.nan), None),
        ("b 2-D", None, W0()),
    ):
        out.append(
            bad(
                f"Chain.set_network: {label}",
                lambda ctx, W=W, b=b: ctx["chain"].set_network(W, b),
                TypeError if "bool" in label or "complex" in label else ValueError,
                label[0],
            )
        )
    out += api_ok("W, b of int64", W=np.zeros((N, N), np.int64), b=np.zeros(N, np.int64))
    out += api_ok("W, b of float32", W=np.zeros((N, N), np.float32), b=np.zeros(N, np.float32))
    out += api_ok("W, b as lists", W=[[0.0] * N] * N, b=[0, 0, 0])
    out += api_ok("clamp int8", clamp=np.array([1, 0, -1], np.int8))
    out += api_ok("clamp list", clamp=[1, -1, -1])
    return out


# -- class 3: a 2-D b and the random generator -------------------------------------------------


def shape_rng_cases():
    out = []
    for shape in ((N, 1), (1, N), (N, N)):
        out += api_cases(f"b of shape {shape}", ValueError, ["b"], b=np.zeros(shape))
    for label, r in (
        ("RandomState", lambda: np.random.RandomState(0)),
        ("int seed", lambda: 0),
        ("None", lambda: None),
        ("SeedSequence", lambda: np.random.SeedSequence(0)),
        ("PCG64", lambda: np.random.PCG64(0)),
        ("random.Random", lambda: random.Random(0)),
        ("str", lambda: "seed"),
    ):
        out += api_cases(f"rng {label}", TypeError, ["rng"], rng=r())
        out.append(
            bad(
                f"Chain.restore: rng {label}",
                lambda ctx, r=r: Chain.restore(
                    ctx["W"], ctx["b"], P, r(), ctx["saved"], n_last_stdp=2
                ),
                TypeError,
                "rng",
            )
        )
    for label, bg in (
        ("MT19937", np.random.MT19937),
        ("Philox", np.random.Philox),
        ("SFC64", np.random.SFC64),
    ):
        out += api_ok(f"rng Generator({label})", rng=np.random.Generator(bg(1)))
    for label, p in (("a dict", {"t_ref": 10, "tau_syn": 10}), ("None", None)):
        out += api_cases(f"params {label}", TypeError, ["params"], params=p)
    out += api_cases("engine 'gpu'", ValueError, ["engine"], engine="gpu")
    out += api_cases("engine 1", TypeError, ["engine"], engine=1)
    for label, w in (
        ("a list of numbers", [1, 2]),
        ("a window, not a tuple", tri_window(1, 1, 5, 5)),
        ("a per-synapse window of 4 neurons", (tri_window(np.ones((4, 4)), 1, 5, 5),)),
        ("a window with NaN amplitude", (tri_window(np.nan, 1, 5, 5),)),
    ):
        want = ValueError if "per-synapse" in label or "NaN" in label else TypeError
        out += api_cases(f"windows {label}", want, ["windows"], windows=w)
    out += api_cases("record 'no'", TypeError, ["record"], record="no")
    out += api_cases("record 1", TypeError, ["record"], record=1)
    return out


# -- class 4: SimParams fields -------------------------------------------------------------------


def simparams_cases():
    out = []
    table = [
        ("tau_syn", math.inf, ValueError),
        ("tau_syn", -math.inf, ValueError),
        ("tau_syn", math.nan, ValueError),
        ("tau_syn", 0.0, ValueError),
        ("tau_syn", -1.0, ValueError),
        ("tau_syn", "10", TypeError),
        ("tau_syn", True, TypeError),
        ("tau_syn", None, TypeError),
        ("tau_syn", 10 + 0j, TypeError),
        ("tau_syn", [10], TypeError),
        ("tau_syn", 1e9, ValueError),
        ("tau_syn", np.float64(np.inf), ValueError),
        ("t_ref", 0, ValueError),
        ("t_ref", -1, ValueError),
        ("t_ref", 10.5, TypeError),
        ("t_ref", None, TypeError),
        ("t_ref", 2**60, ValueError),
        ("min_isi", 0, ValueError),
        ("min_isi", 1.5, TypeError),
        ("min_isi", 2**62, ValueError),
        ("min_isi", True, TypeError),
        ("n_last_psp", 0, ValueError),
        ("n_last_psp", 2.0, TypeError),
        ("n_last_psp", -3, ValueError),
        ("psp", "square", ValueError),
        ("psp", 3, ValueError),
        ("psp", None, ValueError),
        ("potentials", "double", ValueError),
        ("potentials", None, ValueError),
        ("potentials", 1, ValueError),
    ]
    for name, v, want in table:
        out.append(
            bad(
                f"SimParams({name}={v!r})",
                lambda ctx, n=name, v=v: SimParams(**{"t_ref": 10, "tau_syn": 10, n: v}),
                want,
                name,
            )
        )
    for psp, tau in (
        ("alpha", 1e-200),
        ("exp", 5e-324),
        ("exp", 1e7),
        ("alpha", 1e300),
        ("tail", 1e8),
    ):
        out.append(
            bad(
                f"SimParams(psp={psp}, tau_syn={tau})",
                lambda ctx, p=psp, t=tau: SimParams(t_ref=10, tau_syn=t, psp=p),
                ValueError,
                "tau_syn",
            )
        )
    out.append(
        bad(
            "SimParams(psp=cutoff, t_ref=2**30)",
            lambda ctx: SimParams(t_ref=2**30, tau_syn=5, psp="cutoff"),
            ValueError,
            "t_ref",
        )
    )
    for kw in (
        {"tau_syn": np.float32(10)},
        {"tau_syn": 11},
        {"tau_syn": np.int64(3)},
        *({"psp": p} for p in ("rect", "alpha", "exp", "cutoff", "tail")),
        {"potentials": "fixed"},
        {"min_isi": 1},
        {"n_last_psp": LAST},
    ):
        out.append(
            ok(
                f"SimParams({kw})",
                lambda ctx, kw=kw: SimParams(**{"t_ref": 10, "tau_syn": 10, **kw}),
            )
        )
    return out


# -- class 5: Chain.restore ----------------------------------------------------------------------

# rows of the neuron table and slots of the clock (spikealign.sim.fast)
FREE_AT, ACC, SINCE, THR, HQ, CROSS, PNEXT, SNEXT, NSPK, HEAD, UQ, CHANGED = range(12)
NEXT_EVENT, PSP_MASK, Z_MASK, Z_SINCE = range(4)


def changed(saved, key, fn):
    out = {k: np.array(v) for k, v in saved.items()}
    out[key] = fn(out[key])
    return out


def _set(index, value):
    def fn(a):
        a[index] = value
        return a

    return fn


def restore_with(arrays_fn, **kw):
    return lambda ctx: Chain.restore(
        ctx["W"], ctx["b"], P, rng(), arrays_fn(ctx["saved"]), n_last_stdp=kw.get("n_last_stdp", 2)
    )


def spiking_neuron(saved) -> int:
    return int(np.argmax(saved["nrn"][NSPK]))


def restore_cases():
    out = []
    for t in (-50, -1, PHASE, 2**60, 10.0, True, "10", np.array(-3), None, np.float64(5)):
        want = (
            ValueError if isinstance(t, int | np.ndarray) and not isinstance(t, bool) else TypeError
        )
        out.append(bad(f"time={t!r}", restore_with(lambda s, t=t: {**s, "time": t}), want, "time"))
    for key in ("nrn", "inv", "clock", "ring", "psp", "time"):
        out.append(
            bad(
                f"without {key}",
                restore_with(lambda s, key=key: {k: v for k, v in s.items() if k != key}),
                ValueError,
                key,
            )
        )
    out.append(
        bad(
            "nrn as float",
            restore_with(lambda s: changed(s, "nrn", lambda a: a.astype(float))),
            ValueError,
            "nrn",
        )
    )
    out.append(
        bad(
            "ring one slot longer",
            restore_with(lambda s: changed(s, "ring", lambda a: np.hstack([a, a[:, :1]]))),
            ValueError,
            "ring",
        )
    )
    out.append(
        bad(
            "psp of 4 neurons",
            restore_with(lambda s: changed(s, "psp", lambda a: np.zeros(4))),
            ValueError,
            "psp",
        )
    )
    out.append(
        bad("a list, not a mapping", restore_with(lambda s: list(s.values())), TypeError, "arrays")
    )
    out.append(
        bad(
            "another chain's n_last_stdp (ring length)",
            restore_with(lambda s: s, n_last_stdp=20),
            ValueError,
            "ring",
        )
    )

    def corrupt(label, key, index_fn, value_fn):
        def arrays(s):
            i = spiking_neuron(s)
            idx = index_fn(i, s)
            return changed(s, key, _set(idx, value_fn(s, i, idx)))

        out.append(bad(f"inconsistent: {label}", restore_with(arrays), ValueError, "Chain.restore"))

    t = lambda s: int(s["time"])  # noqa: E731
    corrupt(
        "acc above the threshold",
        "nrn",
        lambda i, s: (ACC, i),
        lambda s, i, x: s["nrn"][THR, i] + 1,
    )
    corrupt("negative acc", "nrn", lambda i, s: (ACC, i), lambda s, i, x: -1)
    corrupt("negative threshold", "nrn", lambda i, s: (THR, i), lambda s, i, x: -5)
    corrupt("ring head outside the ring", "nrn", lambda i, s: (HEAD, i), lambda s, i, x: 99)
    corrupt("negative spike count", "nrn", lambda i, s: (NSPK, i), lambda s, i, x: -1)
    corrupt(
        "refractoriness not from the latest spike",
        "nrn",
        lambda i, s: (FREE_AT, i),
        lambda s, i, x: s["nrn"][FREE_AT, i] + 3,
    )
    corrupt("hazard above its cap", "nrn", lambda i, s: (HQ, i), lambda s, i, x: 2**62)
    corrupt(
        "hazard without its reciprocal",
        "nrn",
        lambda i, s: (HQ, i),
        lambda s, i, x: s["nrn"][HQ, i] + 17,
    )
    corrupt(
        "crossing not from the hazard",
        "nrn",
        lambda i, s: (CROSS, i),
        lambda s, i, x: s["nrn"][CROSS, i] + 1 if s["nrn"][CROSS, i] < 2**61 else t(s),
    )
    corrupt(
        "pending PSP change in the past", "nrn", lambda i, s: (PNEXT, i), lambda s, i, x: t(s) - 1
    )
    corrupt("hazards booked after time", "nrn", lambda i, s: (SINCE, i), lambda s, i, x: t(s) + 1)
    corrupt("half processed event", "nrn", lambda i, s: (CHANGED, i), lambda s, i, x: 1)
    corrupt("reciprocal changed", "inv", lambda i, s: i, lambda s, i, x: s["inv"][i] * 1.5 + 1)
    corrupt(
        "latest spike at time", "ring", lambda i, s: (i, s["nrn"][HEAD, i]), lambda s, i, x: t(s)
    )
    corrupt(
        "latest spike before the previous one",
        "ring",
        lambda i, s: (i, s["nrn"][HEAD, i]),
        lambda s, i, x: 0,
    )
    corrupt("PSP not from the spikes", "psp", lambda i, s: i, lambda s, i, x: s["psp"][i] + 0.5)
    corrupt(
        "next event not the earliest change",
        "clock",
        lambda i, s: NEXT_EVENT,
        lambda s, i, x: s["clock"][NEXT_EVENT] + 7,
    )
    corrupt(
        "PSP pattern not from psp",
        "clock",
        lambda i, s: PSP_MASK,
        lambda s, i, x: s["clock"][PSP_MASK] ^ 1,
    )
    corrupt("state held since after time", "clock", lambda i, s: Z_SINCE, lambda s, i, x: t(s) + 5)
    out.append(ok("the saved state", restore_with(lambda s: s)))
    out.append(
        ok(
            "the saved state, time as a 0-d array (np.load)",
            restore_with(lambda s: {**s, "time": np.array(s["time"])}),
        )
    )
    return out


# -- class 6: phases of 2**49 steps or more ------------------------------------------------------


def ssn_config(overrides):
    from spikealign.ssn.config import load_config

    return lambda ctx: load_config("smoke", overrides)


def bm_config(overrides):
    from spikealign.bm.config import load_config

    return lambda ctx: load_config("bars", overrides)


def phase_cases():
    out = []
    for v in (PHASE, PHASE + 1, 2**62, 2**64, np.uint64(2**63)):
        out += api_cases(f"n_steps={v}", ValueError, ["n_steps"], n_steps=v)
    for v in (PHASE, 2**63, 2**70):
        out += api_cases(f"sample_every={v}", ValueError, ["sample_every"], sample_every=v)

    def late_run(ctx):
        chain = ctx["chain"]
        start = chain.time
        chain.time = PHASE - 10
        try:
            chain.run(10)
        finally:
            chain.time = start

    out.append(bad("Chain.run past 2**49 steps in all", late_run, ValueError, "n_steps"))
    for name, v in (("min_isi", 2**50), ("t_ref", 2**50), ("min_isi", 2**63)):
        out.append(
            bad(
                f"SimParams({name}={v})",
                lambda ctx, n=name, v=v: SimParams(**{"t_ref": 10, "tau_syn": 10, n: v}),
                ValueError,
                name,
            )
        )
    out += [
        c
        for c in api_ok("n_steps=2**49 - 1", n_steps=PHASE - 1)
        if not c.label.startswith("Chain.run")
    ]
    out.append(
        ok(
            "Chain.run up to step 2**49 - 1",
            lambda ctx: ctx["chain"].run(PHASE - 1 - ctx["chain"].time),
        )
    )
    for ov, name in (
        ({"dur": 2**44}, "dur"),
        ({"val_factor": PHASE}, "val_factor"),
        ({"dur": PHASE}, "dur"),
        ({"dur": 2**30, "val_factor": 2**20}, "dur"),
        ({"sim_params": {"t_ref": 2**50}}, "t_ref"),
        ({"sample_every": PHASE}, "sample_every"),
    ):
        out.append(bad(f"ssn {ov}", ssn_config(ov), ValueError, name))
    for ov, name in (
        ({"wake_steps": PHASE}, "wake_steps"),
        ({"sleep_steps": 2**62}, "sleep_steps"),
        ({"eval": {"steps": PHASE}}, "eval.steps"),
        ({"eval": {"dkl_steps": 2**50}}, "eval.dkl_steps"),
        ({"sim": {"t_ref": 2**50}}, "sim.t_ref"),
        ({"sim": {"min_isi": 2**50}}, "sim.min_isi"),
    ):
        out.append(bad(f"bm {ov}", bm_config(ov), ValueError, name))
    out.append(ok("bm wake_steps=2**49 - 1", bm_config({"wake_steps": PHASE - 1})))
    out.append(
        ok(
            "ssn dur * t_ref * val_factor = 2**49 - 50 * 10",
            ssn_config({"dur": (PHASE - 500) // 500}),
        )
    )
    return out


# -- class 7: spike rings and sleep phases without bound ----------------------------------------


def ring_cases():
    out = []
    for v in (10**9, LAST + 1, 2**63, 0, -1):
        out += api_cases(f"n_last_stdp={v}", ValueError, ["n_last_stdp"], n_last_stdp=v)
        out.append(
            bad(
                f"Chain.restore(n_last_stdp={v})",
                lambda ctx, v=v: Chain.restore(
                    ctx["W"], ctx["b"], P, rng(), ctx["saved"], n_last_stdp=v
                ),
                ValueError,
                "n_last_stdp",
            )
        )
    for v in (10**9, LAST + 1, 2**40):
        out.append(
            bad(
                f"SimParams(n_last_psp={v})",
                lambda ctx, v=v: SimParams(t_ref=10, tau_syn=10, n_last_psp=v),
                ValueError,
                "n_last_psp",
            )
        )
    out += api_ok(f"n_last_stdp={LAST}", n_last_stdp=LAST)
    for ov, name in (
        ({"sim_params": {"num_last_spikes": 10**9}}, "sim_params.num_last_spikes"),
        ({"stdp": {"num_last_spikes": 10**9}}, "stdp.num_last_spikes"),
        ({"stdp": {"num_last_spikes": LAST + 1}}, "stdp.num_last_spikes"),
    ):
        out.append(bad(f"ssn {ov}", ssn_config(ov), ValueError, name))
    for ov, name in (
        ({"sleep_phases": 10**9}, "sleep_phases"),
        ({"sleep_phases": 1001}, "sleep_phases"),
        ({"stdp": {"num_last_spikes": 10**9}}, "stdp.num_last_spikes"),
    ):
        out.append(bad(f"bm {ov}", bm_config(ov), ValueError, name))
    out.append(ok("bm sleep_phases=1000", bm_config({"sleep_phases": 1000})))
    out.append(
        ok(f"ssn stdp.num_last_spikes={LAST}", ssn_config({"stdp": {"num_last_spikes": LAST}}))
    )
    return out


# -- class 8: numbers in --set and YAML -----------------------------------------------------------

USUAL_NUMBERS = [
    "1e-3",
    "1e300",
    "1E5",
    "-2.5e-7",
    "+1e3",
    "1.e3",
    ".5e1",
    "5e+2",
    "-.5",
    "2.5e3",
    "1e-300",
    "-1E+2",
    "3.0E-4",
    "7e0",
    "+.25",
    "0.5e-2",
    "12E-1",
]
LOOKALIKES = [
    "1e3abc",
    "e5",
    "1e",
    ".e1",
    "1.2.3",
    "1e-3.5",
    "e-3",
    "1e+",
    "+e3",
    "1 e3",
    "0e",
    "E5",
    "1ee3",
    "1e3e3",
    "--1e3",
    "1e3.",
    "0x1e3g",
]
NON_FINITE = ["1e400", "-1e400", "1e999", "-2.5E+308", ".inf", "-.inf", ".nan"]


def _set_value(text):
    value = parse_set_value("lr.kp", text)
    if not (isinstance(value, float) and value == float(text)):
        raise AssertionError(f"read as {value!r}")


def _yaml_value(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(f"lr: {{kp: {text}}}\nw: [{text}]\n")
        data = load_yaml(path)
    for value in (data["lr"]["kp"], data["w"][0]):
        if not (isinstance(value, float) and value == float(text)):
            raise AssertionError(f"read as {value!r}")


def _stays_string(text):
    for value in (parse_set_value("k", text), load_yaml_text(f"k: {text}\n")["k"]):
        if value != text:
            raise AssertionError(f"read as {value!r}")


def load_yaml_text(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(text)
        return load_yaml(path)


def _ssn_set(text):
    from spikealign.ssn.cli import parse_overrides
    from spikealign.ssn.config import load_config

    cfg = load_config("smoke", parse_overrides([f"lr.weight={text}"]))
    if cfg.lr.weight != float(text):
        raise AssertionError(f"lr.weight {cfg.lr.weight!r}")


def _refused_non_finite(text):
    from spikealign.ssn.cli import parse_overrides
    from spikealign.ssn.config import load_config

    try:
        load_config("smoke", parse_overrides([f"lr.weight={text}"]))
    except ConfigError as exc:
        if "finite" not in str(exc):
            raise AssertionError(f"refused, not as non-finite: {exc}") from None
        raise
    raise AssertionError("accepted")


def number_cases():
    out = []
    for text in USUAL_NUMBERS:
        out.append(ok(f"--set value {text}", lambda ctx, t=text: _set_value(t)))
        out.append(ok(f"YAML value {text}", lambda ctx, t=text: _yaml_value(t)))
    for text in [t for t in USUAL_NUMBERS if not t.startswith("-")]:
        out.append(ok(f"ssn --set lr.weight={text}", lambda ctx, t=text: _ssn_set(t)))
    for text in LOOKALIKES:
        out.append(ok(f"{text!r} stays a string", lambda ctx, t=text: _stays_string(t)))
    for text in NON_FINITE:
        out.append(
            bad(
                f"ssn --set lr.weight={text}",
                lambda ctx, t=text: _refused_non_finite(t),
                ValueError,
                "lr.weight",
            )
        )
    return out


CLASSES = {
    "integers": integer_cases,
    "arrays": array_cases,
    "shapes_rng": shape_rng_cases,
    "simparams": simparams_cases,
    "restore": restore_cases,
    "phase_length": phase_cases,
    "ring_memory": ring_cases,
    "numbers": number_cases,
}


def tally() -> dict:
    """``{class: (cases, held, [(label, problem), ...])}``."""
    ctx = context()
    out = {}
    for name, make in CLASSES.items():
        cases = make()
        problems = [(c.label, p) for c in cases if (p := judge(c, ctx)) is not None]
        out[name] = (len(cases), len(cases) - len(problems), problems)
    return out


def report():
    for name, (n, held, problems) in tally().items():
        print(f"{name}: {held}/{n} held")
        for label, problem in problems[:200]:
            print(f"    {label}: {problem}")


@pytest.mark.parametrize("name", list(CLASSES))
def test_class(name):
    """Every case of one class holds: bad inputs refused with the right exception naming the
    argument, fast and before the engine; good ones accepted."""
    ctx = context()
    cases = CLASSES[name]()
    problems = [f"{c.label}: {p}" for c in cases if (p := judge(c, ctx)) is not None]
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems)


def test_the_cases_can_fail():
    """:func:`judge` sees an accepted bad input, a wrong exception type, a message that does
    not name the argument and a refused good input."""
    ctx = context()
    assert judge(bad("x", lambda c: simulate(W0(), b0(), 10, P, rng()), ValueError, "W"), ctx)
    assert judge(bad("x", lambda c: SimParams(t_ref=0, tau_syn=1), TypeError, "t_ref"), ctx)
    assert judge(bad("x", lambda c: SimParams(t_ref=0, tau_syn=1), ValueError, "tau"), ctx)
    assert judge(ok("x", lambda c: SimParams(t_ref=0, tau_syn=1)), ctx)
    assert judge(ok("x", lambda c: simulate(W0(), b0(), 10, P, rng())), ctx) is None


def test_limits_are_the_engines():
    from spikealign import limits
    from spikealign.sim import fast

    assert (limits.MAX_PHASE_STEPS, limits.MAX_LAST_SPIKES) == (PHASE, LAST)
    assert fast.MAX_PHASE_STEPS == PHASE and fast.FAR >= 2 * PHASE
    # every int64 time the engine forms stays below NEVER: a step below 2**49 plus a
    # refractory period (<= 2**49 + 1), a crossing (<= FAR) and a PSP change age
    assert 2 * PHASE + 1 + fast.FAR + limits.MAX_PSP_TAPS < fast.NEVER


# -- property tests: the simulator API --------------------------------------------------------

REAL_NOT_INT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6).map(np.float64),
    st.integers(-(10**6), 10**6).map(float),
)
NOT_INTEGER = st.one_of(
    REAL_NOT_INT,
    st.booleans(),
    st.text(max_size=5),
    st.none(),
    st.complex_numbers(max_magnitude=1e6),
    st.integers(0, 10**6).map(lambda i: [i]),
    st.integers(0, 10**6).map(fractions.Fraction),
    st.sampled_from([np.bool_(True), np.array([3]), np.array(3.0)]),
)
BAD_DTYPES = st.sampled_from([bool, complex, object, "U4", np.complex64])


def _array(dtype, shape, seed):
    a = np.random.default_rng(seed).integers(-1, 2, shape)
    return a.astype(dtype)


@st.composite
def bad_api_call(draw):
    """``(where, thunk, exception type, argument name)``: one argument of one entry point
    replaced by a bad value."""
    arg = draw(
        st.sampled_from(
            [
                "n_steps",
                "W",
                "b",
                "clamp",
                "rng",
                "n_last_stdp",
                "sample_every",
                "record",
                "params",
                "windows",
            ]
        )
    )
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    kw = {
        "W": np.zeros((n, n)),
        "b": np.zeros(n),
        "n_steps": 100,
        "params": P,
        "rng": np.random.default_rng(seed),
    }
    extra = {}
    if arg == "n_steps":
        how = draw(st.sampled_from(["type", "range"]))
        v = draw(
            NOT_INTEGER
            if how == "type"
            else st.one_of(st.integers(max_value=-1), st.integers(min_value=PHASE))
        )
        kw["n_steps"], want = v, TypeError if how == "type" else ValueError
    elif arg in ("W", "b"):
        shape = (n, n) if arg == "W" else (n,)
        how = draw(st.sampled_from(["dtype", "shape", "non-finite"]))
        if how == "dtype":
            kw[arg], want = _array(draw(BAD_DTYPES), shape, seed), TypeError
        elif how == "shape":  # b: not 1-D; W: not (N, N) for the N biases
            other = draw(
                st.lists(st.integers(0, 4), min_size=0, max_size=3)
                .map(tuple)
                .filter(lambda s, shape=shape: s != shape and (arg == "W" or len(s) != 1))
            )
            kw[arg], want = np.zeros(other), ValueError
        else:
            a = np.zeros(shape)
            a.flat[draw(st.integers(0, a.size - 1))] = draw(
                st.sampled_from([np.nan, np.inf, -np.inf])
            )
            kw[arg], want = a, ValueError
    elif arg == "clamp":
        how = draw(st.sampled_from(["dtype", "value", "shape"]))
        if how == "dtype":
            c = _array(
                draw(st.sampled_from([bool, float, complex, object, np.float32])), (n,), seed
            )
            want = TypeError
        elif how == "value":
            c = np.full(n, -1)
            c[draw(st.integers(0, n - 1))] = draw(
                st.integers(-(2**63), 2**63 - 1).filter(lambda v: v not in (-1, 0, 1))
            )
            want = ValueError
        else:
            c = np.full(draw(st.integers(0, 8).filter(lambda m: m != n)), -1)
            want = ValueError
        extra["clamp"] = c
    elif arg == "rng":
        kw["rng"] = draw(
            st.sampled_from(
                [
                    np.random.RandomState(seed),
                    seed,
                    None,
                    np.random.SeedSequence(seed),
                    np.random.PCG64(seed),
                    random.Random(seed),
                    str(seed),
                ]
            )
        )
        want = TypeError
    elif arg in ("n_last_stdp", "sample_every"):
        how = draw(st.sampled_from(["type", "range"]))
        low, high = (1, LAST) if arg == "n_last_stdp" else (0, PHASE - 1)
        v = draw(
            NOT_INTEGER
            if how == "type"
            else st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1))
        )
        extra[arg], want = v, TypeError if how == "type" else ValueError
    elif arg == "record":
        extra["record"] = draw(
            st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats(allow_nan=False))
        )
        want = TypeError
    elif arg == "params":
        kw["params"] = draw(st.sampled_from([None, {"t_ref": 10, "tau_syn": 10}, (10, 10), 10]))
        want = TypeError
    else:
        extra["windows"] = draw(st.sampled_from([[1], (None,), "tri", 5]))
        want = TypeError
    where = draw(
        st.sampled_from(["simulate", "fast", "reference", "stepwise", "Chain", "Chain.run"])
    )
    chain_args = {"W", "b", "params", "rng", "clamp", "n_last_stdp"}
    run_args = {"n_steps", "windows", "sample_every", "record"}
    if where == "simulate" and extra:
        where = "fast"
    if where == "Chain" and arg not in chain_args:
        where = "reference"
    if where == "Chain.run" and arg not in run_args:
        where = "stepwise"
    if where == "simulate":

        def thunk(ctx):
            simulate(kw["W"], kw["b"], kw["n_steps"], kw["params"], kw["rng"])
    elif where == "Chain":

        def thunk(ctx):
            Chain(kw["W"], kw["b"], kw["params"], kw["rng"], **extra)
    elif where == "Chain.run":

        def thunk(ctx):
            ctx["chain"].run(kw["n_steps"], **extra)
    else:

        def thunk(ctx):
            phase_statistics(
                kw["W"], kw["b"], kw["n_steps"], kw["params"], kw["rng"], engine=where, **extra
            )

    return where, thunk, want, arg


@PROPERTY
@given(call=bad_api_call())
def test_property_bad_argument_refused_before_the_engine(call):
    where, thunk, want, name = call
    problem = judge(bad(where, thunk, want, name), context())
    assert problem is None, f"{where}, {name}: {problem}"


@st.composite
def bad_sim_params(draw):
    name = draw(st.sampled_from(["t_ref", "tau_syn", "min_isi", "n_last_psp"]))
    how = draw(st.sampled_from(["type", "range"]))
    if name == "tau_syn":
        v = draw(
            st.one_of(
                st.text(max_size=3),
                st.booleans(),
                st.none(),
                st.complex_numbers(max_magnitude=10).filter(lambda z: z.imag != 0),
            )
            if how == "type"
            else st.one_of(
                st.floats(max_value=0.0),
                st.sampled_from([math.inf, math.nan]),
                st.floats(min_value=2.0**24 + 1, allow_infinity=False),
            )
        )
    else:
        high = {"t_ref": PHASE, "min_isi": PHASE + 1, "n_last_psp": LAST}[name]
        v = draw(
            NOT_INTEGER.filter(lambda v: v is not None)
            if how == "type"
            else st.one_of(st.integers(max_value=0), st.integers(min_value=high + 1))
        )
    kw = {"t_ref": 10, "tau_syn": 10.0, name: v}
    return name, kw, TypeError if how == "type" else ValueError


@PROPERTY
@given(case=bad_sim_params())
def test_property_bad_sim_params(case):
    name, kw, want = case
    problem = judge(bad(name, lambda ctx: SimParams(**kw), want, name), context())
    assert problem is None, f"SimParams({kw}): {problem}"


@PROPERTY
@given(
    t_ref=st.integers(1, 60),
    tau=st.floats(0.5, 80),
    psp=st.sampled_from(["rect", "alpha", "exp", "cutoff", "tail"]),
    n_last=st.integers(1, LAST),
    min_isi=st.none() | st.integers(1, 100),
)
def test_property_good_sim_params_accepted(t_ref, tau, psp, n_last, min_isi):
    p = SimParams(t_ref=t_ref, tau_syn=tau, psp=psp, n_last_psp=n_last, min_isi=min_isi)
    assert np.all(np.isfinite(p.psp_table())) and p.min_isi == (min_isi or t_ref + 1)


# -- property tests: Chain.restore --------------------------------------------------------------

CHAIN_PARAMS = [
    SimParams(t_ref=10, tau_syn=10),
    SimParams(t_ref=8, tau_syn=4, psp="alpha", n_last_psp=3),
    SimParams(t_ref=2, tau_syn=30, n_last_psp=2),
    SimParams(t_ref=5, tau_syn=9, psp="exp", n_last_psp=2, potentials="fixed"),
    SimParams(t_ref=6, tau_syn=6, min_isi=6, n_last_psp=1),
]


@st.composite
def genuine_state(draw):
    """A chain run in parts (sampled or not, the network changed between parts) and its
    saved state."""
    p = draw(st.sampled_from(CHAIN_PARAMS))
    n = draw(st.integers(1, 14))
    seed = draw(st.integers(0, 2**16))
    r = np.random.default_rng(seed)
    W, b = r.normal(0, 1.5, (n, n)), r.normal(-1, 1, n)
    clamp = np.where(r.random(n) < 0.2, r.integers(0, 2, n), -1)
    n_last = draw(st.integers(1, 3))
    chain = Chain(W, b, p, np.random.default_rng(seed), clamp=clamp, n_last_stdp=n_last)
    for part in draw(st.lists(st.integers(0, 300), min_size=1, max_size=4)):
        if draw(st.booleans()):
            chain.set_network(W * r.uniform(0, 2), b)
        chain.run(part, sample_every=draw(st.integers(0, 3)) if n <= 12 else 0)
    return chain, p, clamp, n_last


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(state=genuine_state(), data=st.data())
def test_property_restore_accepts_saved_states_and_refuses_corrupted_ones(state, data):
    chain, p, clamp, n_last = state
    saved = chain.state_arrays()
    W, b = chain._net.W, chain._net.b
    c = Chain.restore(W, b, p, np.random.default_rng(0), saved, clamp=clamp, n_last_stdp=n_last)
    assert c.time == chain.time
    for got, want in zip(c._state[:5], chain._state[:5], strict=True):
        np.testing.assert_array_equal(got, want)
    n = len(b)
    nrn = saved["nrn"]
    i = data.draw(st.integers(0, n - 1))
    t = int(saved["time"])
    spiked = nrn[NSPK, i] > 0
    kinds = [
        "time",
        "acc",
        "thr",
        "head",
        "nspk",
        "hazard",
        "cross",
        "inv",
        "next_event",
        "dtype",
        "since",
    ]
    if spiked:
        kinds += ["free_at", "ring"]
    kind = data.draw(st.sampled_from(kinds))
    s = {k: np.array(v) for k, v in saved.items()}
    if kind == "time":
        s["time"] = data.draw(
            st.one_of(
                st.integers(max_value=-1), st.integers(min_value=PHASE), REAL_NOT_INT, st.booleans()
            )
        )
    elif kind == "acc":
        s["nrn"][ACC, i] = data.draw(
            st.one_of(
                st.integers(min_value=-(2**63), max_value=-1),
                st.integers(min_value=int(nrn[THR, i]) + 1, max_value=2**62),
            )
        )
    elif kind == "thr":
        s["nrn"][THR, i] = data.draw(st.integers(-(2**62), -1))
    elif kind == "head":
        ring_len = s["ring"].shape[1]
        s["nrn"][HEAD, i] = data.draw(
            st.one_of(st.integers(-(2**40), -1), st.integers(ring_len, 2**40))
        )
    elif kind == "nspk":
        s["nrn"][NSPK, i] = data.draw(st.integers(-(2**40), -1))
    elif kind == "hazard":
        h = int(nrn[HQ, i])
        s["nrn"][HQ, i] = data.draw(st.integers(1, 1000).map(lambda d: h + d if h < 2**40 else d))
    elif kind == "cross":
        s["nrn"][CROSS, i] = data.draw(st.integers(t, 2**61).filter(lambda v: v != nrn[CROSS, i]))
    elif kind == "inv":
        s["inv"][i] = data.draw(st.floats(allow_nan=False).filter(lambda v: v != saved["inv"][i]))
    elif kind == "next_event":
        s["clock"][NEXT_EVENT] = data.draw(
            st.integers(-(2**40), 2**61).filter(lambda v: v != saved["clock"][NEXT_EVENT])
        )
    elif kind == "dtype":
        key = data.draw(st.sampled_from(["nrn", "inv", "clock", "ring", "psp"]))
        s[key] = s[key].astype(np.float32 if s[key].dtype == np.int64 else np.int64)
    elif kind == "since":
        s["nrn"][SINCE, i] = data.draw(
            st.one_of(st.integers(-(2**63), -1), st.integers(t + 1, 2**61))
        )
    elif kind == "free_at":
        s["nrn"][FREE_AT, i] = data.draw(
            st.integers(-(2**40), 2**61).filter(lambda v: v != nrn[FREE_AT, i])
        )
    else:  # the latest spike moved to time or later, or before the one before it
        head = nrn[HEAD, i]
        s["ring"][i, head] = data.draw(st.one_of(st.integers(t, 2**61), st.integers(-(2**40), -1)))
    want = (
        TypeError
        if kind == "time"
        and not isinstance(s["time"], int)
        or (kind == "time" and isinstance(s["time"], bool))
        else ValueError
    )
    problem = judge(
        bad(
            kind,
            lambda ctx: Chain.restore(
                W, b, p, np.random.default_rng(0), s, clamp=clamp, n_last_stdp=n_last
            ),
            want,
            "Chain.restore",
            "time",
        ),
        context(),
    )
    assert problem is None, f"{kind}: {problem}"


def test_restore_continues_bit_identically_after_the_checks():
    """A checked restore changes nothing: the restored chain emits the spikes the original
    emits (through an npz round trip, as bm checkpoints)."""
    ctx = context()
    p = SimParams(t_ref=6, tau_syn=9, psp="alpha", n_last_psp=3)
    W, b = np.random.default_rng(3).normal(0, 1.5, (5, 5)), np.zeros(5)
    a = Chain(W, b, p, np.random.default_rng(4), n_last_stdp=2)
    a.run(777)
    buf = io.BytesIO()
    np.savez(buf, **a.state_arrays())
    buf.seek(0)
    state = a.rng.bit_generator.state
    want = a.run(2000, record=True, sample_every=3).spikes
    r = np.random.default_rng()
    r.bit_generator.state = state
    with np.load(buf) as arrays:
        c = Chain.restore(W, b, p, r, arrays, n_last_stdp=2)
    np.testing.assert_array_equal(c.run(2000, record=True, sample_every=3).spikes, want)
    assert ctx["chain"].time == 1234


# -- property tests: the number parser --------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False)
FORMATS = st.sampled_from(
    [
        repr,
        str,
        "{:e}".format,
        "{:E}".format,
        "{:g}".format,
        "{:.17g}".format,
        "{:.3e}".format,
        "{:+e}".format,
        "{:+.10g}".format,
        "{:.1E}".format,
    ]
)


@PROPERTY
@given(x=FINITE, fmt=FORMATS)
def test_property_written_floats_read_back(x, fmt):
    text = fmt(x)
    value = parse_set_value("k", text)
    assert not isinstance(value, bool | str), (text, value)
    assert value == float(text), (text, value)
    if any(c in text for c in ".eE"):
        assert isinstance(value, float), (text, value)
    assert load_yaml_text(f"k: {text}\nl: [{text}]\n") == {"k": value, "l": [value]}


@PROPERTY
@given(
    mantissa=st.from_regex(r"\A(?:[1-9][0-9]{0,5}|0)(?:\.[0-9]{0,5})?\Z|\A\.[0-9]{1,5}\Z"),
    sign=st.sampled_from(["", "-", "+"]),
    e=st.sampled_from("eE"),
    esign=st.sampled_from(["", "-", "+"]),
    exponent=st.integers(0, 330),
)
def test_property_exponent_forms_are_floats(mantissa, sign, e, esign, exponent):
    text = f"{sign}{mantissa}{e}{esign}{exponent}"
    expected = float(text)
    assume(math.isfinite(expected))
    value = parse_set_value("k", text)
    assert isinstance(value, float) and value == expected, (text, value)


@PROPERTY
@given(i=st.integers(-(10**30), 10**30))
def test_property_integers_stay_integers(i):
    value = parse_set_value("k", str(i))
    assert type(value) is int and value == i


@PROPERTY
@given(text=st.text(alphabet="0123456789.eE+-az", min_size=1, max_size=10))
def test_property_lookalikes_stay_strings(text):
    try:
        float(text)
    except ValueError:
        pass
    else:
        assume(False)  # a number in Python's notation (covered above)
    assume(text != "-" and not text.startswith(("---", "...")))
    assert parse_set_value("k", text) == text
    assert load_yaml_text(f"k: {text}\n")["k"] == text


@PROPERTY
@given(
    text=st.sampled_from(NON_FINITE)
    | st.integers(309, 2000).map(lambda k: f"1e{k}")
    | st.integers(309, 2000).map(lambda k: f"-2.5E+{k}"),
    key=st.sampled_from(["lr.weight", "lr.bias", "distr.alpha", "max_w", "init_noise"]),
)
def test_property_non_finite_refused_naming_the_field(text, key):
    from spikealign.ssn.cli import parse_overrides
    from spikealign.ssn.config import load_config

    with pytest.raises(ConfigError, match=rf"{key}: .*finite"):
        load_config("smoke", parse_overrides([f"{key}={text}"]))


SCALARS = st.one_of(
    FINITE,
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(alphabet="0123456789.eE+-ax_:", max_size=8),
    st.text(max_size=6),
)


@PROPERTY
@given(
    data=st.recursive(
        SCALARS,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=12,
    )
)
def test_property_dumped_yaml_reads_back(data):
    """:func:`spikealign.config.yaml_text` quotes what the parser would read as a number, so
    configs written by the runs (config.yaml) read back unchanged."""
    from spikealign.config import parse_yaml, yaml_text

    assert parse_yaml(yaml_text(data)) == data


# -- the same parser everywhere ---------------------------------------------------------------


def run_cli(argv):
    from spikealign import cli

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def workdir():
    root = Path(tempfile.mkdtemp(prefix="spikealign-api-inputs-"))
    old = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(old)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    "argv, key",
    [
        (["ssn", "check", "smoke", "--set", "lr.kp=1e-3"], "kp: 0.001"),
        (["ssn", "check", "smoke", "--set", "lr.weight=2.5E-4"], "weight: 0.00025"),
        (["bm", "check", "bars", "--set", "lr.kp=1e-3"], "kp: 0.001"),
        (["bm", "check", "bars", "--set", "clamp_bias=1e1"], "clamp_bias: 10.0"),
    ],
)
def test_set_numbers_in_every_family(argv, key):
    code, out, err = run_cli(argv)
    assert code == 0, err
    assert key in out


def test_every_family_uses_the_shared_parser():
    """ssn, bm and sweep build their --set overrides with config.parse_overrides; the
    microcircuits and every config file read values with config.parse_yaml."""
    from spikealign import config
    from spikealign.bm import cli as bm_cli
    from spikealign.microcircuits.config import apply_overrides
    from spikealign.ssn import cli as ssn_cli

    for parse in (ssn_cli.parse_overrides, bm_cli.parse_overrides):
        assert parse(["lr.kp=1e-3", "a.b=.5e1", "s=1e3abc"]) == {
            "lr": {"kp": 0.001},
            "a": {"b": 5.0},
            "s": "1e3abc",
        }
    assert apply_overrides({"a": [0.0]}, ["a.0=1e-3"]) == {"a": [0.001]}
    seen = []
    real = config.parse_yaml

    def spy(text):
        seen.append(text)
        return real(text)

    with mock.patch.object(config, "parse_yaml", spy):
        config.parse_set_value("k", "1e-3")
        load_yaml_text("k: 2e-3\n")
        from spikealign.sweep.cli import app as sweep_app  # noqa: F401 - imports the parser
    assert seen == ["1e-3", "k: 2e-3\n"]
    import inspect

    from spikealign.sweep import cli as sweep_cli

    assert "parse_overrides(set_" in inspect.getsource(sweep_cli.run_cmd)
    assert "from ..config import ConfigError, parse_overrides" in inspect.getsource(
        sweep_cli.run_cmd
    )


@pytest.mark.parametrize(
    "argv, name",
    [
        (
            ["bm", "train", "bars", "--set", "sleep_phases=1000000000", "--out", "out"],
            "sleep_phases",
        ),
        (["bm", "train", "bars", "--set", "sleep_phases=1e9", "--out", "out"], "sleep_phases"),
        (
            ["bm", "train", "bars", "--set", "stdp.num_last_spikes=1000000000", "--out", "out"],
            "stdp.num_last_spikes",
        ),
        (
            [
                "ssn",
                "run",
                "smoke",
                "--set",
                "sim_params.num_last_spikes=1000000000",
                "--out",
                "out",
            ],
            "sim_params.num_last_spikes",
        ),
        (["ssn", "run", "smoke", "--set", "dur=100000000000000", "--out", "out"], "dur"),
        (
            ["bm", "train", "bars", "--set", "wake_steps=562949953421312", "--out", "out"],
            "wake_steps",
        ),
    ],
)
def test_refused_before_anything_is_written(argv, name):
    with workdir() as root:
        code, out, err = run_cli(argv)
        assert code == 2, out + err
        assert name in err and "Traceback" not in err
        assert not any(root.iterdir()), sorted(root.iterdir())


def test_every_preset_and_grid_passes_the_bounds():
    """The new bounds take nothing away: every shipped preset and every run of every sweep
    grid (spikealign sweep, bm sweep) validates."""
    from spikealign.bm import sweep as bm_sweep
    from spikealign.bm.config import load_config as bm_load
    from spikealign.bm.config import presets as bm_presets
    from spikealign.microcircuits.config import load_config as mc_load
    from spikealign.microcircuits.config import preset_names
    from spikealign.ssn.config import load_config as ssn_load
    from spikealign.ssn.config import presets as ssn_presets
    from spikealign.sweep.presets import PRESETS, SCALES

    n = 0
    for p in ssn_presets():
        ssn_load(p)
        n += 1
    for p in bm_presets():
        bm_load(p)
        n += 1
    for sw in getattr(bm_sweep, "SWEEPS", {}).values():  # (or sweep PRESETS' bm parts)
        for _, ov in sw.runs():
            bm_load(sw.preset, ov)
            n += 1
    for p in preset_names():
        mc_load(p)
        n += 1
    for _, (_, parts) in PRESETS.items():
        for part in parts:
            for scale in SCALES:
                n += len(part.specs(scale))  # validates every run's config
    assert n > 1000
