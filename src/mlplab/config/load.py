"""Reading configs: TOML files, ``extends = "base.toml"`` and ``--set a.b=value`` (level 4)."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .schema import ConfigError, ExperimentConfig

_INDEX = re.compile(r"^(\w[\w-]*)((?:\[\d+\])*)$")


def load_config(path: str | os.PathLike, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """The experiment described by the TOML file ``path``, with ``overrides`` applied.

    ``extends = "base.toml"`` (relative to the file) loads that file first and deep-merges this
    one over it (tables merge key by key; lists and values replace). A relative ``data.path``
    is relative to the file that sets it. Each override is ``key.path=value``, the value parsed
    as a TOML value (a bare word is a string): ``train.epochs=5``, ``optimizer.name=sgd``,
    ``model.layers[0].config.units=64``, ``model.hidden={depth = 2, units = 64}``.
    Raises :class:`ConfigError` (a ValueError) naming the TOML path of each problem.
    """
    raw = _read(Path(path), ())
    for text in overrides:
        apply_override(raw, text)
    return ExperimentConfig.from_dict(raw)


def _read(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"extends: a cycle: {cycle}")
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        where = f" (extended by {chain[-1]})" if chain else ""
        raise ConfigError(f"config file {str(path)!r} not found{where}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    data = doc.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        data["path"] = str((path.parent / data["path"]).resolve())
    base = doc.pop("extends", None)
    if base is None:
        return doc
    if not isinstance(base, str):
        raise ConfigError(f"extends: expected a file name (a string), got {base!r} in {path}")
    return deep_merge(_read(path.parent / base, (*chain, path)), doc)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: tables merge key by key, the rest replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``5``, ``1e-3``, ``true``, ``"x"``, ``[1, 2]``,
    ``{a = 1}``), or the text itself when it is not one (``adam``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(doc: dict[str, Any], text: str) -> None:
    """Apply one ``key.path=value`` to the parsed document ``doc`` in place."""
    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError(f"--set: expected key.path=value, got {text!r}")
    target: Any = doc
    parts = key.split(".")
    steps: list[str | int] = []
    for part in parts:
        m = _INDEX.match(part)
        if m is None:
            raise ConfigError(f"--set {key}: {part!r} is not a key (letters, digits, _ and [i])")
        steps.append(m.group(1))
        steps += [int(i) for i in re.findall(r"\d+", m.group(2))]
    where = ""
    for step, nxt in zip(steps[:-1], steps[1:]):
        where += f"[{step}]" if isinstance(step, int) else (f".{step}" if where else step)
        if isinstance(step, int):
            if not isinstance(target, list) or step >= len(target):
                n = len(target) if isinstance(target, list) else 0
                raise ConfigError(f"--set {key}: {where} is out of range (the list has {n})")
            target = target[step]
        else:
            if not isinstance(target, dict):
                raise ConfigError(f"--set {key}: {where} is not a table")
            if step not in target:
                target[step] = [] if isinstance(nxt, int) else {}
            target = target[step]
    last = steps[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            raise ConfigError(f"--set {key}: index {last} is out of range")
        target[last] = parse_value(value.strip())
    elif not isinstance(target, dict):
        raise ConfigError(f"--set {key}: {where} is not a table")
    else:
        target[last] = parse_value(value.strip())
