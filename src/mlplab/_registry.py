"""One small registry type for every kind of named object (level 0).

Names are matched case-insensitively and without ``_``/``-``, so ``"leaky_relu"``,
``"LeakyReLU"`` and ``"leaky-relu"`` name the same thing, as in Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


class Registry(Generic[T]):
    """Maps names to objects of one kind; unknown names get an error listing the valid ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._names: dict[
            int, str
        ] = {}  # id(obj) -> canonical name, for messages and serialization

    def register(self, name: str, obj: T | None = None, *, aliases: tuple[str, ...] = ()):
        """Register ``obj`` under ``name``; used bare as a decorator it registers the decorated."""

        def add(o: T) -> T:
            for n in (name, *aliases):
                k = _key(n)
                if k in self._items and self._items[k] is not o:
                    raise ValueError(f"{self.kind} registry: name {n!r} is already taken")
                self._items[k] = o
            self._names.setdefault(id(o), name)
            return o

        return add if obj is None else add(obj)

    def register_class(self, *aliases: str) -> Callable[[type], type]:
        """Class decorator: register the class under its own name (``Dense``) and ``aliases``.

        Every registry of classes (layers, losses) registers through this one method.
        """

        def add(cls: type) -> type:
            return self.register(cls.__name__, cls, aliases=aliases)  # type: ignore[arg-type]

        return add

    def get(self, name: str) -> T:
        if not isinstance(name, str):
            raise TypeError(f"unknown {self.kind} {name!r}: expected a name, one of {self.names()}")
        try:
            return self._items[_key(name)]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {self.names()}") from None

    def name_of(self, obj: Any) -> str | None:
        """The canonical name ``obj`` was registered under, or None."""
        return self._names.get(id(obj))

    def values(self) -> list[T]:
        """Each registered object once, in registration order."""
        return list({id(o): o for o in self._items.values()}.values())

    def names(self) -> list[str]:
        return sorted(set(self._names.values()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._items


def split_spec(kind: str, spec: Any) -> tuple[Any, dict]:
    """Split ``"name"`` or ``{"name": ..., "config": {...}}`` into (name, config)."""
    if isinstance(spec, Mapping):
        name = spec.get("name", spec.get("class_name"))
        if name is None:
            raise ValueError(
                f"{kind} spec {dict(spec)!r} needs a 'name': a spec is "
                f"{{'name': ..., 'config': {{...}}}} (config optional)"
            )
        extra = set(spec) - {"name", "class_name", "config"}
        if extra:
            raise ValueError(
                f"{kind} spec has unknown keys {sorted(extra)}; "
                "expected 'name' and optionally 'config'"
            )
        config = dict(spec.get("config") or {})
        return name, config
    return spec, {}


def build_from_spec(
    registry: Registry,
    spec: Any,
    instance_of: type | None = None,
    factory: Callable[[Any, dict], Any] | None = None,
) -> Any:
    """Resolve a spec into an object: instances pass through, names and dicts are built."""
    if instance_of is not None and isinstance(spec, instance_of):
        return spec
    name, config = split_spec(registry.kind, spec)
    obj = registry.get(name)
    return factory(obj, config) if factory else obj(**config)
