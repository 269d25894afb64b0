"""Typed, validated configuration shared by all model families.

Configs are pydantic models with ``extra="forbid"`` and strict types: an unknown key, a wrong
type or an out-of-range value is rejected before any simulation, and :func:`validate` turns the
first problem into one line naming the field and what is allowed, raised as
:class:`ConfigError` (the CLI prints it and exits with status 2).
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration problem, described in one line."""


class StrictModel(BaseModel):
    """Base of all config sections: unknown keys and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values")
    return data


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


def describe_error(model: type[BaseModel], exc: ValidationError) -> str:
    """One line for the first error of a pydantic validation.

    An unknown key is reported before anything else: a misspelt key (``t_reff``) also makes the
    real one (``t_ref``) missing, and the misspelling is the cause worth naming."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(loc) if loc else "config"
    kind = err["type"]
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
        msg = msg[len("Value error, "):]
    if "input" in err and kind not in ("model_type", "dict_type") and not isinstance(
        err["input"], dict
    ):
        msg = f"{msg} (got {err['input']!r})"
    return f"{field}: {msg}"


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


def dump_yaml(model: BaseModel) -> str:
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)
