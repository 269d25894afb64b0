"""Malformed inputs to the command line (issue 11, items 4 and 7).

Every malformed config or option value of ``ssn run/check``, ``microcircuit run/check``,
``deep train`` and ``sweep run/status`` must end the command before any work with exit status
2, one line naming what is wrong (``error: ...``, or click's usage message for an option that
does not parse), no traceback, and nothing written: neither the output directory nor ``runs/``
in the working directory. The property tests generate such inputs with hypothesis (unknown
keys, wrong types, out-of-range values, NaN and infinity, invalid YAML in ``--set`` and in
files, binary and undecodable files, bad option values) and run the real CLI in-process
(:func:`spikealign.cli.main`), each example in a fresh working directory.

``SPIKEALIGN_INPUT_EXAMPLES`` sets the examples per property test (default
:data:`N_EXAMPLES`); the module prints how many generated inputs it tried.
"""

from __future__ import annotations

import collections
import contextlib
import io
import math
import os
import shutil
import tempfile
import types
import typing
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from spikealign import cli
from spikealign.boltzmann import MAX_EXACT_DIM
from spikealign.config import ConfigError, StrictModel, load_yaml, parse_set_value, validate
from spikealign.config import yaml_text as config_yaml_text
from spikealign.microcircuits.config import MicrocircuitConfig, preset_path
from spikealign.ssn.config import N_SEED_IDS, PRESET_DIR, SSNConfig

torch = pytest.importorskip("torch")
pytest.importorskip("dask")

from spikealign.deep import ALGOS, DATASETS  # noqa: E402
from spikealign.deep.train import TrainConfig  # noqa: E402
from spikealign.sweep.presets import PRESETS, SCALES  # noqa: E402

#: examples per property test; the commands fail before any simulation, so one takes ~15 ms
N_EXAMPLES = int(os.environ.get("SPIKEALIGN_INPUT_EXAMPLES", "75"))
PROPERTY = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: generated inputs run through the CLI, by family (printed at the end of the module)
TRIED: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_tried(request):
    yield
    total = sum(TRIED.values())
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if total and reporter is not None:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items()))
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"\ntest_cli_inputs: {total} generated inputs tried ({parts})")


# -- running the CLI ----------------------------------------------------------------------


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``spikealign ARGV`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def sandbox():
    """A fresh, empty working directory for one example."""
    root = Path(tempfile.mkdtemp(prefix="spikealign-inputs-"))
    old = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(old)
        shutil.rmtree(root, ignore_errors=True)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def error_line(code: int, out: str, err: str) -> str:
    """The one line that says what is wrong (asserting the shape of the output)."""
    text = out + err
    assert code == 2, f"exit status {code}:\n{text}"
    assert "Traceback" not in text, text
    assert out == "", text
    lines = err.strip().splitlines()
    if lines and lines[0].startswith("Usage:"):  # click: an option value that does not parse
        assert lines[-1].startswith("Error: "), text
        return lines[-1]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


def assert_refused(argv: list[str], names: list[str], family: str, root: Path) -> str:
    """Run ``argv`` in ``root``: exit 2, one line naming one of ``names``, nothing written."""
    before = listing(root)
    line = error_line(*run_cli(argv))
    TRIED[family] += 1
    assert any(cli.one_line(n) in line for n in names), f"{line!r} names none of {names}"
    assert listing(root) == before, f"{argv} wrote {set(listing(root)) - set(before)}"
    return line


# -- config trees and their models -----------------------------------------------------------

SSN_BASE = load_yaml(PRESET_DIR / "smoke.yaml")
SWEEP_BASE = load_yaml(PRESET_DIR / "syn_noise.yaml")  # base of the tiny sweep
MC_BASE = load_yaml(preset_path("example"))
DEEP_BASE = {
    "epochs": 1,
    "batch_size": 16,
    "test_batch_size": 32,
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 0.001,
    "augment": True,
    "train_limit": 64,
    "test_limit": 32,
    "checkpoint_every": 1,
    "sal": {"n_iterations": 1, "t_ref": 10, "len_epoch": 5, "sal_lr": 0.04},
    "rdd": {"rdd_time": 1.0, "update_every": 100},
}


def test_base_configs_are_valid():
    """The mutations below start from valid configs, so every error comes from a mutation."""
    validate(SSNConfig, SSN_BASE)
    validate(SSNConfig, SWEEP_BASE)
    validate(MicrocircuitConfig, MC_BASE)
    validate(TrainConfig, {**DEEP_BASE, "algo": "sal"})


def _walk(tree, path=()):
    yield path, tree
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _walk(v, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _walk(v, (*path, i))


def leaves(tree) -> list[tuple]:
    """Paths of the scalar values (numbers, strings, booleans; not None)."""
    return [p for p, v in _walk(tree) if isinstance(v, int | float | str) and p]


def sections(tree) -> list[tuple]:
    return [p for p, v in _walk(tree) if isinstance(v, dict)]


def get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def replaced(tree, path, value):
    """A copy of ``tree`` with ``path`` set to ``value`` (``value is DELETE``: removed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = list(tree) if isinstance(tree, list) else dict(tree)
    if rest:
        copy[head] = replaced(tree[head], rest, value)
    elif value is DELETE:
        del copy[head]
    else:
        copy[head] = value
    return copy


DELETE = object()


def dotted(path) -> str:
    return ".".join(str(p) for p in path)


def _members(annotation) -> list:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_model(a) -> bool:
    return isinstance(a, type) and issubclass(a, BaseModel)


def model_at(model: type[BaseModel], path: tuple) -> type[BaseModel]:
    """The model class of the section at ``path`` (through lists and unions)."""
    annotation = model
    for part in path:
        members = _members(annotation)
        if isinstance(part, int):
            annotation = next(
                typing.get_args(m)[0] for m in members if typing.get_origin(m) is list
            )
        else:
            annotation = next(m for m in members if _is_model(m)).model_fields[part].annotation
    return next(m for m in _members(annotation) if _is_model(m))


# -- malformed values -------------------------------------------------------------------------

NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
#: YAML spellings of NaN and infinity (1.0e999 overflows to infinity)
NON_FINITE_YAML = st.sampled_from(
    [".nan", ".NaN", ".NAN", ".inf", "+.inf", "-.inf", ".Inf", "-.INF", "1.0e999", "-1.0e999"]
)
NEG_FLOAT = st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False)
NONPOS_FLOAT = st.floats(max_value=0.0, allow_nan=False, allow_infinity=False)
SHORT_TEXT = st.text(max_size=8)
#: mapping keys that no config knows (the YAML merge key ``<<`` is not a plain key)
NEW_KEY = st.text(min_size=1, max_size=12).filter(lambda k: k != "<<")


def wrong_type(value):
    """Values of another type than ``value``, which a strict field of its type refuses."""
    if isinstance(value, bool):
        return st.one_of(
            st.integers(),
            SHORT_TEXT,
            st.floats(allow_nan=False),
            st.lists(st.booleans(), min_size=1, max_size=2),
        )
    if isinstance(value, int | float):
        return st.one_of(
            SHORT_TEXT,
            st.booleans(),
            st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
            st.lists(st.text(max_size=3), min_size=1, max_size=2),
        )
    return st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    )


def ints_upto(n):
    return st.integers(min_value=-(10**12), max_value=n)


SSN_RANGES = {
    ("dim",): st.one_of(ints_upto(1), st.integers(MAX_EXACT_DIM + 1, 10**6)),
    ("sim_params", "t_ref"): ints_upto(0),
    ("sim_params", "tau_syn"): NONPOS_FLOAT,
    ("sim_params", "num_last_spikes"): ints_upto(0),
    ("distr", "alpha"): NONPOS_FLOAT,
    ("distr", "beta"): NONPOS_FLOAT,
    ("lr", "bias"): NEG_FLOAT,
    ("lr", "weight"): NEG_FLOAT,
    ("lr", "symm"): NEG_FLOAT,
    ("lr", "kp"): st.one_of(NEG_FLOAT, st.floats(1.0, 1e300)),
    ("num_epochs",): ints_upto(0),
    ("val_step",): ints_upto(0),
    ("val_factor",): ints_upto(0),
    ("dur",): ints_upto(0),
    ("init_noise",): NEG_FLOAT,
    ("weight_init",): NEG_FLOAT,
    ("bias_init",): NEG_FLOAT,
    ("max_w",): NONPOS_FLOAT,
    ("max_b",): NONPOS_FLOAT,
    ("stdp", "num_last_spikes"): ints_upto(0),
    ("stdp", "ws", "tau_plus"): NONPOS_FLOAT,
    ("stdp", "sal", "tau_minus"): NONPOS_FLOAT,
    ("stdp", "ws", "noise"): NEG_FLOAT,
    ("stdp", "sal", "noise"): NEG_FLOAT,
    ("seed", "distr"): ints_upto(-1),
    ("seed", "sim"): ints_upto(-1),
    ("seed_id",): st.one_of(ints_upto(-1), st.integers(N_SEED_IDS, 10**6)),
    ("sample_every",): ints_upto(0),
}
NP, SS, TS = "network_properties", "student_simulation_settings", "teacher_simulation_settings"
MC_RANGES = {
    (NP, "t_ref"): ints_upto(0),
    (NP, "tau_syn"): ints_upto(0),
    (NP, "n_last_spks"): ints_upto(0),
    (NP, "size_moving_average"): ints_upto(0),
    (NP, "learning_lag"): ints_upto(-1),
    (NP, "stdp_tau_causal"): NONPOS_FLOAT,
    (NP, "stdp_tau_anticausal"): NONPOS_FLOAT,
    (NP, "dims"): st.one_of(
        st.lists(st.integers(1, 5), max_size=1),
        st.lists(ints_upto(0), min_size=1, max_size=2).map(lambda bad: [1, *bad, 1]),
    ),
    (SS, "t_pattern"): ints_upto(0),
    (TS, "t_pattern"): ints_upto(0),
    (SS, "len_epoch"): ints_upto(0),
    (SS, "num_epochs"): ints_upto(0),
    (SS, "recorded_sample_length"): ints_upto(0),
    (SS, "len_validation"): ints_upto(-1),
    (SS, "len_symmetrization"): st.one_of(ints_upto(-1), st.integers(5, 10**6)),  # len_epoch 5
    (SS, "poisson_seed"): ints_upto(-1),
    (SS, "training_seed"): ints_upto(-1),
    (SS, "weights_init_seed"): ints_upto(-1),
    (TS, "poisson_seed"): ints_upto(-1),
    ("options", "max_recording_mb"): NONPOS_FLOAT,
}
DEEP_RANGES = {
    ("epochs",): ints_upto(-1),
    ("batch_size",): ints_upto(1),
    ("test_batch_size",): ints_upto(0),
    ("lr",): NONPOS_FLOAT,
    ("momentum",): NEG_FLOAT,
    ("weight_decay",): NEG_FLOAT,
    ("train_limit",): ints_upto(1),
    ("test_limit",): ints_upto(0),
    ("checkpoint_every",): ints_upto(0),
    ("sal", "n_iterations"): ints_upto(-1),
    ("sal", "t_ref"): ints_upto(0),
    ("sal", "len_epoch"): ints_upto(0),
    ("sal", "batch_size"): ints_upto(0),
    ("sal", "buffer_length"): ints_upto(0),
    ("rdd", "rdd_time"): NONPOS_FLOAT,
    ("rdd", "update_every"): ints_upto(0),
}
#: keys the tiny sweep sets itself after the overrides (its noise axis and seeds)
SWEEP_OWN = {("init_noise",), ("seed", "distr"), ("seed", "init"), ("seed", "sim"), ("seed_id",)}


@dataclass(frozen=True)
class Family:
    name: str
    base: dict
    model: type[BaseModel]
    ranges: dict
    fixed: frozenset = frozenset()  # paths a mutation must leave alone


FAMILIES = {
    "ssn": Family("ssn", SSN_BASE, SSNConfig, SSN_RANGES),
    "microcircuit": Family("microcircuit", MC_BASE, MicrocircuitConfig, MC_RANGES),
    "deep": Family("deep", DEEP_BASE, TrainConfig, DEEP_RANGES),
    "sweep": Family(
        "sweep",
        SWEEP_BASE,
        SSNConfig,
        {k: v for k, v in SSN_RANGES.items() if k not in SWEEP_OWN},
        frozenset(SWEEP_OWN),
    ),
}


@dataclass(frozen=True)
class Mutation:
    kind: str
    path: tuple  # where the config is changed (for an unknown key: including the key)
    value: object  # the new value (DELETE: the key is removed)

    @property
    def names(self) -> list[str]:
        return [dotted(self.path)]


@st.composite
def mutations(
    draw,
    family: Family,
    kinds=("unknown_key", "non_finite", "wrong_type", "section_type", "missing", "out_of_range"),
):
    """One change that makes ``family.base`` invalid."""
    base = family.base
    required = [
        (*p, k)
        for p in sections(base)
        for k, f in model_at(family.model, p).model_fields.items()
        if f.is_required() and k in get(base, p)
    ]
    kind = draw(st.sampled_from([k for k in kinds if k != "missing" or required]))
    if kind == "unknown_key":
        path = draw(st.sampled_from(sections(base)))
        owner = model_at(family.model, path)
        key = draw(NEW_KEY.filter(lambda k: k not in owner.model_fields))
        return Mutation(kind, (*path, key), draw(st.one_of(st.integers(), SHORT_TEXT)))
    candidates = [p for p in leaves(base) if p not in family.fixed]
    if kind == "non_finite":
        numbers = [p for p in candidates if not isinstance(get(base, p), bool | str)]
        return Mutation(kind, draw(st.sampled_from(numbers)), draw(NON_FINITE))
    if kind == "wrong_type":
        path = draw(st.sampled_from(candidates))
        return Mutation(kind, path, draw(wrong_type(get(base, path))))
    if kind == "section_type":
        path = draw(st.sampled_from([p for p in sections(base) if p]))
        return Mutation(kind, path, draw(st.one_of(st.integers(), SHORT_TEXT, st.booleans())))
    if kind == "missing":
        return Mutation(kind, draw(st.sampled_from(required)), DELETE)
    path = draw(st.sampled_from(sorted(family.ranges)))
    return Mutation(kind, path, draw(family.ranges[path]))


def yaml_text(value) -> str:
    """``value`` as a one-line YAML flow text (for ``--set KEY=VALUE``; strings that read as
    numbers quoted, :func:`spikealign.config.yaml_text`)."""
    text = config_yaml_text(value, default_flow_style=True, width=10**9)
    return text.removesuffix("\n...\n").strip()


def _parses(text: str) -> bool:
    try:
        parse_set_value("key", text)
    except ConfigError:
        return False
    return True


_YAML_BREAKERS = [
    "[",
    "{",
    "]",
    "}",
    "'",
    '"',
    "*",
    "&",
    "!",
    "@",
    "`",
    "%",
    "|\n x\ny",
    "{a: 1",
    "[1, 2",
    "a: b: c",
    "- a\nb: c",
    "*undefined",
    "!!python/object:x",
    "\t- x",
    "? [a]\n: 1\n? [a]",
    "a: 1\n a: 2",
    "x\x07",
]
#: texts that are not valid YAML
BAD_YAML = st.builds(
    lambda a, frag, b: a + frag + b, SHORT_TEXT, st.sampled_from(_YAML_BREAKERS), SHORT_TEXT
).filter(lambda t: not _parses(t))


def _not_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


#: contents of a config file that is not a YAML text (names the file in its error)
BAD_FILE = st.one_of(
    # binary: random bytes with a NUL or a byte that UTF-8 never uses
    st.builds(
        lambda a, bad, b: a + bad + b,
        st.binary(max_size=64),
        st.sampled_from([b"\x00", b"\xff", b"\xfe", b"\xc0", b"\xf8"]),
        st.binary(max_size=64),
    ),
    # undecodable text: Latin-1 (or UTF-16 without a BOM) instead of UTF-8
    st.text(st.characters(min_codepoint=0xA0, max_codepoint=0xFF), min_size=1, max_size=8)
    .map(lambda t: f"dim: 7  # {t}\n".encode("latin-1"))
    .filter(_not_utf8),
    st.just("dim: 7\n".encode("utf-16-le")),
    # text that is not valid YAML
    BAD_YAML.map(lambda t: t.encode("utf-8")),
)


def dump(tree) -> str:
    return config_yaml_text(tree, sort_keys=False, allow_unicode=False, width=10**9)


# -- ssn, microcircuit: malformed config files and --set values --------------------------------

#: (command, needs --out) per family; ``run`` must fail before it simulates anything
COMMANDS = {
    "ssn": [("run", True), ("check", False)],
    "microcircuit": [("run", True), ("check", False)],
}


def _config_argv(family: str, command: str, with_out: bool, config: str) -> list[str]:
    argv = [family, command, config]
    if with_out:
        argv += ["--out", "out", "--quiet"]
    return argv


@pytest.mark.parametrize("family", ["ssn", "microcircuit"])
@PROPERTY
@given(data=st.data())
def test_malformed_config_file(family, data):
    fam = FAMILIES[family]
    command, with_out = data.draw(st.sampled_from(COMMANDS[family]))
    m = data.draw(mutations(fam))
    event(f"{command}: {m.kind}")
    with sandbox() as root:
        (root / "cfg.yaml").write_text(dump(replaced(fam.base, m.path, m.value)))
        line = assert_refused(
            _config_argv(family, command, with_out, "cfg.yaml"), m.names, family, root
        )
    assert "cfg.yaml" in line


@pytest.mark.parametrize("family", ["ssn", "microcircuit"])
@PROPERTY
@given(data=st.data())
def test_malformed_set_value(family, data):
    """``--set KEY=VALUE`` on a preset: a value of the wrong type or range, NaN or infinity, an
    unknown key, or a value that is not YAML at all."""
    fam = FAMILIES[family]
    command, with_out = data.draw(st.sampled_from(COMMANDS[family]))
    preset = "smoke" if family == "ssn" else "example"
    how = data.draw(st.sampled_from(["mutation", "non_finite", "bad_yaml"]))
    if how == "mutation":
        m = data.draw(mutations(fam, ("unknown_key", "wrong_type", "out_of_range")))
        key = dotted(m.path)
        raw = yaml_text(m.value)
        assume("=" not in key.split(".")[-1] and "." not in str(m.path[-1]))
        assume(key == key.strip() and parse_set_value(key, raw) == m.value)
    else:
        key = dotted(
            data.draw(
                st.sampled_from(
                    [p for p in leaves(fam.base) if not isinstance(get(fam.base, p), bool | str)]
                )
            )
        )
        raw = data.draw(NON_FINITE_YAML if how == "non_finite" else BAD_YAML)
    event(f"{command}: {m.kind if how == 'mutation' else how}")
    with sandbox() as root:
        argv = _config_argv(family, command, with_out, preset) + ["--set", f"{key}={raw}"]
        line = assert_refused(argv, [key], family, root)
    if how == "bad_yaml":
        assert f"--set {key}: the value" in line and "not valid YAML" in line


@pytest.mark.parametrize("family", ["ssn", "microcircuit", "deep"])
@PROPERTY
@given(content=BAD_FILE)
def test_binary_undecodable_or_invalid_yaml_file(family, content):
    with sandbox() as root:
        (root / "cfg.yaml").write_bytes(content)
        if family == "deep":
            (root / "data").mkdir()
            argv = [
                "deep",
                "train",
                "--algo",
                "bp",
                "--dataset",
                "mnist",
                "--config",
                "cfg.yaml",
                "--out",
                "out",
                "--data-dir",
                "data",
                "--quiet",
            ]
        else:
            argv = _config_argv(family, "run", True, "cfg.yaml")
        assert_refused(argv, ["cfg.yaml"], family, root)


# -- deep train ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _empty_data_cache(monkeypatch, tmp_path):
    """No data set anywhere: a config that wrongly passed would stop at the data look-up."""
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.delenv("SPIKEALIGN_DATA_DIR", raising=False)


DEEP_ARGV = [
    "deep",
    "train",
    "--algo",
    "sal",
    "--dataset",
    "mnist",
    "--out",
    "out",
    "--data-dir",
    "data",
    "--quiet",
]


@PROPERTY
@given(m=mutations(FAMILIES["deep"]))
def test_deep_malformed_config(m):
    event(m.kind)
    with sandbox() as root:
        (root / "data").mkdir()
        (root / "cfg.yaml").write_text(dump(replaced(DEEP_BASE, m.path, m.value)))
        line = assert_refused([*DEEP_ARGV, "--config", "cfg.yaml"], m.names, "deep", root)
    assert "cfg.yaml" in line


def _not_in(values):
    return st.text(max_size=10).filter(lambda t: t not in values)


DEEP_OPTIONS = st.one_of(
    st.tuples(st.just("--epochs"), ints_upto(-1).map(str), st.just("epochs")),
    st.tuples(st.just("--seed"), ints_upto(-1).map(str), st.just("seed")),
    st.tuples(st.just("--threads"), ints_upto(0).map(str), st.just("--threads")),
    st.tuples(st.just("--algo"), _not_in(ALGOS), st.just("--algo")),
    st.tuples(st.just("--dataset"), _not_in(DATASETS), st.just("--dataset")),
    st.tuples(st.just("--data-dir"), st.just("no-such-dir"), st.just("--data-dir")),
    st.tuples(st.just("--data-dir"), st.just("cfg.yaml"), st.just("--data-dir")),  # a file
    st.tuples(
        st.sampled_from(["--epochs", "--seed", "--threads"]),
        st.sampled_from(["x", "1.5", "nan", ""]),
        st.just("Invalid value"),
    ),
)


@PROPERTY
@given(option=DEEP_OPTIONS)
def test_deep_bad_option(option):
    flag, value, name = option
    with sandbox() as root:
        (root / "data").mkdir()
        (root / "cfg.yaml").write_text("epochs: 1\n")
        argv = [*DEEP_ARGV, f"{flag}={value}"]
        assert_refused(argv, [name], "deep", root)


# -- sweep run / status -----------------------------------------------------------------------

SWEEP_ARGV = ["sweep", "run", "tiny", "--out", "out", "--no-figures", "--quiet"]


@PROPERTY
@given(data=st.data())
def test_sweep_malformed_set(data):
    """Every run of the sweep gets the override; the first invalid one stops the sweep before
    its manifest is written."""
    fam = FAMILIES["sweep"]
    how = data.draw(st.sampled_from(["mutation", "non_finite", "bad_yaml"]))
    if how == "mutation":
        m = data.draw(mutations(fam, ("unknown_key", "wrong_type", "out_of_range")))
        key, raw = dotted(m.path), yaml_text(m.value)
        assume("=" not in key.split(".")[-1] and "." not in str(m.path[-1]))
        assume(key == key.strip() and parse_set_value(key, raw) == m.value)
    else:
        numbers = [
            p
            for p in leaves(fam.base)
            if p not in fam.fixed and not isinstance(get(fam.base, p), bool | str)
        ]
        key = dotted(data.draw(st.sampled_from(numbers)))
        raw = data.draw(NON_FINITE_YAML if how == "non_finite" else BAD_YAML)
    event(m.kind if how == "mutation" else how)
    with sandbox() as root:
        assert_refused([*SWEEP_ARGV, "--set", f"{key}={raw}"], [key], "sweep", root)


SWEEP_OPTIONS = st.one_of(
    st.tuples(st.just("--limit"), ints_upto(-1).map(str), st.just("--limit")),
    st.tuples(st.just("--scale"), _not_in(SCALES), st.just("--scale")),
    st.tuples(st.just("--workers"), ints_upto(0).map(str), st.just("--workers")),
    st.tuples(st.just("--cores"), ints_upto(0).map(str), st.just("--cores")),
    st.tuples(st.just("--cluster"), _not_in(("local", "slurm")), st.just("--cluster")),
    st.tuples(
        st.sampled_from(["--limit", "--workers", "--cores"]),
        st.sampled_from(["x", "1.5", "inf", ""]),
        st.just("Invalid value"),
    ),
)


@PROPERTY
@given(option=SWEEP_OPTIONS)
def test_sweep_bad_option(option):
    flag, value, name = option
    with sandbox() as root:
        assert_refused([*SWEEP_ARGV, f"{flag}={value}"], [name], "sweep", root)


@PROPERTY
@given(
    name=st.text(min_size=1, max_size=12).filter(
        lambda t: t not in PRESETS and not t.startswith("-") and t.strip() == t
    )
)
def test_sweep_unknown_preset(name):
    with sandbox() as root:
        assert_refused(
            ["sweep", "run", name, "--out", "out", "--quiet"], [repr(name)], "sweep", root
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | SHORT_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SHORT_TEXT, inner, max_size=3),
    max_leaves=8,
)


@PROPERTY
@given(
    case=st.one_of(
        st.tuples(st.just("missing"), st.just(b"")),
        st.tuples(st.just("file"), st.binary(max_size=32)),
        st.tuples(st.just("manifest"), BAD_FILE),
        st.tuples(
            st.just("manifest"),
            JSON.filter(
                lambda v: not (isinstance(v, dict) and isinstance(v.get("parts"), dict))
            ).map(lambda v: __import__("json").dumps(v).encode()),
        ),
    )
)
def test_sweep_status_of_a_damaged_directory(case):
    kind, content = case
    with sandbox() as root:
        if kind == "file":
            (root / "sweep").write_bytes(content)
        elif kind == "manifest":
            (root / "sweep").mkdir()
            (root / "sweep" / "sweep.json").write_bytes(content)
        assert_refused(["sweep", "status", "sweep"], ["sweep"], "sweep", root)


# -- non-finite floats: every float option of every command, every float config field ------


def _is_float_param(param) -> bool:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is not None:
        return float in (annotation, *typing.get_args(annotation))
    return getattr(getattr(param, "type", None), "name", "") == "float"


def float_options() -> list[tuple[tuple[str, ...], str]]:
    """(command path, option) of every float option of the CLI."""
    import typer.main

    found = []

    def walk(command, path):
        for p in command.params:
            if _is_float_param(p):
                found.append((path, next(o for o in p.opts if o.startswith("--"))))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(cli.app), ())
    return found


#: options a command needs to get as far as checking its float options
REQUIRED = {
    ("principle", "stdd"): ["--w-ab", "0.5", "--w-ba", "0.5", "--t-ref", "5"],
    ("principle", "phase-plane"): ["--t-ref", "5"],
    ("deep", "symmetrize"): [],
    ("sweep", "run"): ["tiny"],
}
FLOAT_OPTIONS = float_options()


def test_float_options_are_all_known():
    assert len(FLOAT_OPTIONS) >= 15
    assert {path for path, _ in FLOAT_OPTIONS} <= set(REQUIRED)


@pytest.mark.parametrize(
    "path,option", FLOAT_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v
)
@settings(
    max_examples=4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.sampled_from(
        ["nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "1e999", "-1e999"]
    )
)
def test_non_finite_float_option(path, option, value):
    required = list(REQUIRED[path])
    if option in required:
        i = required.index(option)
        del required[i : i + 2]
    with sandbox() as root:
        line = assert_refused(
            [
                *path,
                *required,
                f"{option}={value}",
                "--out",
                "out.npz" if path[0] == "principle" else "out",
            ],
            [option],
            "float options",
            root,
        )
    if line.startswith("error: "):
        assert line.startswith(f"error: {option}: must be a finite number (got ")


def _config_models() -> list[type[BaseModel]]:
    import spikealign.deep.symmetrize  # noqa: F401  (registers its model)

    seen, todo = [], [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("spikealign") and sub not in seen:
                seen.append(sub)
    return seen


def _has_float(annotation) -> bool:
    return annotation is float or any(_has_float(a) for a in typing.get_args(annotation))


def test_every_config_model_refuses_non_finite_floats():
    """All config models derive from StrictModel (NaN and infinity refused), and every float
    field, also inside lists and unions, reports a non-finite value at its own name."""
    models = _config_models()
    assert len(models) >= 15
    checked = 0
    for model in models:
        assert issubclass(model, StrictModel), model
        assert model.model_config.get("allow_inf_nan") is False, model
        for name, field in model.model_fields.items():
            if not _has_float(field.annotation):
                continue
            for bad in (math.nan, math.inf, -math.inf):
                hits = []
                for value in (bad, [bad], [[bad]]):
                    try:
                        model.model_validate({name: value})
                    except Exception as exc:  # pydantic.ValidationError
                        hits += [
                            e
                            for e in exc.errors()
                            if e["type"] == "finite_number" and e["loc"][0] == name
                        ]
                assert hits, f"{model.__name__}.{name} accepts {bad}"
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize(
    "argv,line",
    [
        (
            ["ssn", "check", "smoke", "--set", "lr.weight=.nan"],
            "lr.weight: Input should be a finite number (got nan)",
        ),
        (
            ["ssn", "run", "smoke", "--out", "out", "--set", "stdp.ws.noise=.inf"],
            "stdp.ws.noise: Input should be a finite number (got inf)",
        ),
        (
            [
                "microcircuit",
                "run",
                "example",
                "--out",
                "out",
                "--set",
                "network_properties.lr.0.up=-.inf",
            ],
            "network_properties.lr.0.up: Input should be a finite number (got -inf)",
        ),
        (
            [
                "microcircuit",
                "check",
                "example",
                "--set",
                "teacher_initial_parameters.weights.0.w_up=[[.nan]]",
            ],
            "teacher_initial_parameters.weights.0.w_up.0.0: Input should be a finite "
            "number (got nan)",
        ),
        (
            ["sweep", "run", "tiny", "--out", "out", "--set", "lr.symm=.nan"],
            "sweep part tiny run 0: lr.symm: Input should be a finite number (got nan)",
        ),
        (
            ["principle", "stdd", "--w-ab", "nan", "--w-ba", "0.4", "--t-ref", "5"],
            "error: --w-ab: must be a finite number (got nan)",
        ),
        (
            ["principle", "phase-plane", "--t-ref", "5", "--w-max", "inf", "--out", "pp.npz"],
            "error: --w-max: must be a finite number (got inf)",
        ),
        (
            ["deep", "symmetrize", "--lr", "inf", "--out", "out"],
            "error: --lr: must be a finite number (got inf)",
        ),
    ],
)
def test_finite_checks(argv, line):
    with sandbox() as root:
        got = error_line(*run_cli(argv))
        assert got.endswith(line) and got.startswith("error: ")
        assert listing(root) == []


def test_deep_config_non_finite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("lr: .nan\nsal: {sal_lr: .inf}\n")
    got = error_line(*run_cli(["deep", "train", "--algo", "sal", "--config", "c.yaml"]))
    assert got == "error: c.yaml: lr: Input should be a finite number (got nan)"
    assert listing(tmp_path) == ["c.yaml"]


# -- the input cases of issue 11, item 4, line by line -------------------------------------


@pytest.mark.parametrize(
    "argv,files,expected",
    [
        (
            ["ssn", "check", "smoke", "--set", "lr.weight=["],
            {},
            "error: --set lr.weight: the value '[' is not valid YAML (expected the node "
            "content, but found '<stream end>' (line 1, column 2))",
        ),
        (
            ["ssn", "run", "smoke", "--set", "lr=1", "--set", "lr.weight=2"],
            {},
            "error: --set lr.weight: lr was set to a value, not a section, by an earlier --set",
        ),
        (
            ["ssn", "run", "b.yaml"],
            {"b.yaml": b"\x89PNG\r\n\x1a\n\x00\x00"},
            "error: b.yaml: a binary file, not a YAML config",
        ),
        (
            ["microcircuit", "run", "b.yaml"],
            {"b.yaml": "dim: 7  # caf\xe9\n".encode("latin-1")},
            "error: b.yaml: not UTF-8 text (byte 0xe9 at offset 13); a config is a YAML text file",
        ),
        (["sweep", "run", "tiny", "--limit", "-1"], {}, "error: --limit: must be >= 0 (got -1)"),
        (
            ["sweep", "run", "tiny", "--scale", "huge"],
            {},
            "error: --scale: must be one of paper, quick (got 'huge')",
        ),
        (
            ["deep", "train", "--algo", "bp", "--data-dir", "nowhere"],
            {},
            "error: --data-dir: nowhere: no such directory",
        ),
        (
            [
                "microcircuit",
                "run",
                "example",
                "--set",
                "teacher_initial_parameters.weights.0.w_up=[[1], [1, 2]]",
            ],
            {},
            "error: preset example: teacher_initial_parameters.weights.0.w_up: rows of different "
            "lengths; give a scalar or a full matrix",
        ),
    ],
)
def test_item_4_cases(argv, files, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    assert error_line(*run_cli(argv)) == expected
    assert listing(tmp_path) == sorted(files)


# -- a failed download leaves nothing behind -------------------------------------------------


class _Response:
    """A fake HTTP response: ``chunks`` of bytes, then ``fail`` (an exception) if given."""

    def __init__(self, chunks, fail=None):
        self.chunks, self.fail, self.headers = list(chunks), fail, {}

    def read(self, n=-1):
        if self.chunks:
            return self.chunks.pop(0)
        if self.fail is not None:
            raise self.fail
        return b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _opener(monkeypatch, respond):
    from spikealign.deep import fetch

    def urlopen(url, timeout=None):
        return respond(url)

    monkeypatch.setattr(fetch.urllib.request, "urlopen", urlopen)


def _no_network(url):
    raise urllib.error.URLError("no network")


@pytest.mark.parametrize(
    "respond,message",
    [
        (_no_network, "download failed (no network); nothing was saved"),
        (
            lambda url: _Response([b"\x1f\x8b partial"], ConnectionResetError("reset by peer")),
            "download failed (reset by peer); nothing was saved",
        ),
        (lambda url: _Response([b"not the MNIST file"]), "checksum mismatch"),
    ],
)
@pytest.mark.parametrize("cache_exists", [False, True])
def test_failed_fetch_leaves_no_folders(respond, message, cache_exists, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "spikealign"
    if cache_exists:
        cache.mkdir(parents=True)
    monkeypatch.setenv("SPIKEALIGN_CACHE", str(cache))
    _opener(monkeypatch, respond)
    line = error_line(*run_cli(["data", "fetch", "mnist", "--quiet"]))
    assert line.startswith("error: https://") and message in line
    left = listing(tmp_path)
    assert left == (["cache", "cache/spikealign"] if cache_exists else []), left


def test_fetch_failing_after_one_file_keeps_only_that_file(tmp_path, monkeypatch):
    import hashlib

    from spikealign.deep import fetch as F

    good = b"first file"
    src = F.Source(
        "http://mirror.invalid/",
        "Some/raw",
        (
            F.RemoteFile("a.bin", "md5:" + hashlib.md5(good).hexdigest()),
            F.RemoteFile("b.bin", "md5:" + "0" * 32),
        ),
    )
    _opener(
        monkeypatch,
        lambda url: (
            _Response([good])
            if url.endswith("a.bin")
            else _Response([b"half"], TimeoutError("timed out"))
        ),
    )
    with pytest.raises(F.FetchError, match="b.bin: download failed"):
        F.fetch("x", tmp_path / "dest", source=src)
    assert listing(tmp_path) == ["dest", "dest/Some", "dest/Some/raw", "dest/Some/raw/a.bin"]
    _opener(monkeypatch, _no_network)
    with pytest.raises(F.FetchError):
        F.fetch("x", tmp_path / "other", source=src)
    assert not (tmp_path / "other").exists()


def test_fetch_into_a_file_or_a_bad_mirror(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("x")
    line = error_line(*run_cli(["data", "fetch", "mnist", "--dest", "f/sub", "--quiet"]))
    assert line.startswith("error: f/sub/MNIST/raw: cannot create the data folder")
    line = error_line(
        *run_cli(["data", "fetch", "mnist", "--dest", "d", "--mirror", "not-a-url", "--quiet"])
    )
    assert "not a URL that can be downloaded" in line
    assert listing(tmp_path) == ["f"]
