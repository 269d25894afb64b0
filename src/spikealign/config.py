"""Typed, validated configuration shared by all model families.

Configs are pydantic models with ``extra="forbid"`` and strict types: an unknown key, a wrong
type, an out-of-range value or a non-finite float (NaN, infinity) is rejected before any
simulation, and :func:`validate` turns the first problem into one line naming the field and what
is allowed, raised as :class:`ConfigError` (the CLI prints it and exits with status 2).
:func:`load_yaml` and :func:`parse_set_value` do the same for files that are not UTF-8 YAML
text and for ``--set`` values that are not valid YAML.

Numbers: config files and ``--set`` values are read by one parser, :func:`parse_yaml` (YAML 1.1
as PyYAML reads it, plus the number notations it reads as strings: ``1e-3``, ``1E5``,
``2.5e3``, ``-.5``; :data:`NUMBER`), and :func:`dump_yaml` quotes a string that this parser
would read as a number, so a dumped config reads back unchanged. ``.nan``, ``.inf`` and numbers
beyond the float range (``1e400`` reads as infinity) are floats that validation refuses.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration problem, described in one line."""


class StrictModel(BaseModel):
    """Base of all config sections: unknown keys, silent type coercion and non-finite floats
    (NaN, +-infinity) are errors."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong in a YAML text, in a few words, with the position when known."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem:
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{problem}{where}"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


#: numbers in the usual notation that YAML 1.1 reads as strings: a mantissa with a dot and an
#: exponent without sign (``2.5e3``), a signed mantissa that starts with the dot (``-.5``), or an
#: integer mantissa with an exponent (``1e-3``, ``1E5``, ``+2e+2``). Plain integers, and what
#: YAML 1.1 already reads as a number, keep their YAML 1.1 meaning; anything else (``1e3abc``,
#: ``e5``, ``1e``, ``.e1``) stays a string.
NUMBER = re.compile(
    r"""^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
                          |[0-9]+[eE][-+]?[0-9]+)$""",
    re.X,
)
_NUMBER_FIRST = list("-+0123456789.")
_FLOAT_TAG = "tag:yaml.org,2002:float"


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads :data:`NUMBER` as floats."""


class ConfigDumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes strings :class:`ConfigLoader` would read as numbers."""


for _cls in (ConfigLoader, ConfigDumper):
    _cls.add_implicit_resolver(_FLOAT_TAG, NUMBER, _NUMBER_FIRST)


def parse_yaml(text: str):
    """The value of a YAML text, read by :class:`ConfigLoader` (numbers in the usual notation
    are numbers); the one parser of config files (:func:`load_yaml`) and ``--set`` values
    (:func:`parse_set_value`) of every family."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader


def _parse_yaml(text: str):
    """:func:`parse_yaml` whose failures (syntax, nesting too deep) are YAMLErrors."""
    try:
        return parse_yaml(text)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None


def load_yaml(path: str | Path) -> dict:
    """The mapping in YAML file ``path``, or :class:`ConfigError` naming the file: missing or
    unreadable, binary or not UTF-8 text, not valid YAML, or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    if b"\x00" in raw:
        raise ConfigError(f"{path}: a binary file, not a YAML config")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); a config is a YAML text file"
        ) from None
    try:
        data = _parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    return data


def split_set(item: str, example: str) -> tuple[str, list[str], object]:
    """``--set KEY=VALUE`` as ``(key, dotted parts, value parsed as YAML)``; a malformed item
    raises :class:`ConfigError` naming it (``example`` is a dotted key shown in the message)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. {example}=...")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"--set {key!r}: empty key; expected a dotted path such as {example}")
    return key, parts, parse_set_value(key, raw)


def parse_overrides(pairs: list[str] | None, example: str) -> dict:
    """``--set a.b=value`` pairs (values read by :func:`parse_set_value`) as a nested dict, the
    overrides of a config (ssn, bm, sweep); a malformed pair raises :class:`ConfigError` naming
    it (``example``: a dotted key shown in the message)."""
    out: dict = {}
    for pair in pairs or []:
        key, parts, value = split_set(pair, example)
        node = out
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(
                    f"--set {key}: {where} was set to a value, not a section, by an earlier --set"
                )
        node[parts[-1]] = value
    return out


def parse_set_value(key: str, raw: str):
    """The value of ``--set KEY=RAW`` read by :func:`parse_yaml`, or :class:`ConfigError`
    naming it."""
    try:
        return _parse_yaml(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"--set {key}: the value {raw!r} is not valid YAML ({yaml_problem(exc)})"
        ) from None


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that owns the field at ``loc[:-1]`` (to list allowed keys)."""
    current: Any = model
    for part in loc[:-1]:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation):
    for arg in typing.get_args(annotation) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


#: names pydantic puts into an error location for the member of a union (``w.float``,
#: ``w.list[float].1``); they are not keys of the config
_UNION_TAGS = {"float", "int", "str", "bool", "none", "list", "dict", "tuple"}


def _is_union_tag(part) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or "[" in part or part[:1].isupper())


def _key_loc(err: Mapping[str, Any]) -> tuple:
    """The error's location without union tags. Only field names (lower case), list indices
    and tags lead to an error, so a tag is recognised by its form; the last part of an unknown
    key's location is the user's key and is kept whatever it looks like."""
    loc = tuple(err["loc"])
    if err["type"] in ("extra_forbidden", "invalid_key") and loc:
        return tuple(p for p in loc[:-1] if not _is_union_tag(p)) + loc[-1:]
    return tuple(p for p in loc if not _is_union_tag(p))


def _pick_error(errors: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The error worth reporting. An unknown (or non-string) key comes before anything else: a
    misspelt key (``t_reff``) also makes the real one (``t_ref``) missing, and the misspelling
    is the cause worth naming. In a union field (``float | list[float]``) every member reports
    an error; the one that reaches deepest (``w.1``, the bad list item) says most."""
    first = next((e for e in errors if e["type"] in ("extra_forbidden", "invalid_key")), errors[0])
    base = _key_loc(first)
    if base == tuple(first["loc"]):
        return first
    same_field = [e for e in errors if _key_loc(e)[: len(base)] == base]
    return max(same_field, key=lambda e: len(_key_loc(e)))


def describe_error(model: type[BaseModel], exc: ValidationError) -> str:
    """One line for the first error of a pydantic validation (see :func:`_pick_error`)."""
    err = _pick_error(exc.errors())
    loc = tuple(str(p) for p in _key_loc(err))
    field = ".".join(loc) if loc else "config"
    kind = err["type"]
    if kind == "invalid_key":
        return f"{field}: not a valid key (keys are strings)"
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        if owner is None:
            return f"{field}: unknown key; see the documentation for the allowed keys"
        close = difflib.get_close_matches(loc[-1], list(owner.model_fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{field}: unknown key; allowed keys here: {', '.join(owner.model_fields)}{hint}"
    if kind == "missing":
        return f"{field}: required key is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if (
        "input" in err
        and kind not in ("model_type", "dict_type")
        and not isinstance(err["input"], dict)
    ):
        msg = f"{msg} (got {short_repr(err['input'])})"
    return f"{field}: {msg}"


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(model: type[M], data: dict, source: str = "config") -> M:
    """Validate ``data`` against ``model`` or raise :class:`ConfigError` with one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_error(model, exc)}") from None


def merge(base: dict, overrides: dict) -> dict:
    """Recursive dict merge (``overrides`` win; nested dicts are merged, not replaced); the
    inputs are not modified. Used for presets with overrides and for sweep grids."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def yaml_text(data, **kwargs) -> str:
    """``yaml.safe_dump(data, **kwargs)``, quoting the strings that :func:`parse_yaml` reads
    as numbers (so the text reads back as ``data``)."""
    return yaml.dump(data, Dumper=ConfigDumper, **kwargs)


def dump_yaml(model: BaseModel) -> str:
    return yaml_text(model.model_dump(mode="json"), sort_keys=False)


def yaml_hash(model: BaseModel) -> str:
    """16 hex digits of the SHA-256 of :func:`dump_yaml` (the config hash of a run)."""
    return hashlib.sha256(dump_yaml(model).encode()).hexdigest()[:16]
