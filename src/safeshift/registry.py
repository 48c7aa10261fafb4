"""One registry for every plug-in family: check kinds, lint rules, maintenance kinds, dialects, migrators.

A family makes one module-level :class:`Registry` and registers its classes with the
:meth:`Registry.register` decorator (the name is read from a class attribute such as
``kind`` or ``code``, or given). An entry may also be *lazy*, a ``"module.path:Attr"``
string imported on first use (a database driver missing for one dialect must never break
another). :meth:`Registry.get` raises a one-line :class:`~safeshift.errors.ConfigError`
naming the known entries, so every family reports an unknown name the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from safeshift.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> plug-in (usually a class). Iteration and :meth:`names` go in name order.

    ``noun`` names an entry in messages ("check kind"); ``key`` is the class attribute
    :meth:`register` reads the name from. ``unknown`` and ``unavailable`` are the message
    templates for a name nobody registered (``{noun}``, ``{name}``, ``{known}``) and for a lazy
    entry whose module cannot be imported (``{noun}``, ``{name}``, ``{error}``).
    """

    def __init__(
        self,
        noun: str,
        *,
        key: str = "name",
        unknown: str = "unknown {noun} {name!r} (known: {known})",
        unavailable: str = "support for {name} is not available: {error}",
    ) -> None:
        self.noun = noun
        self.key = key
        self._unknown = unknown
        self._unavailable = unavailable
        self._loaded: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Registry({self.noun!r}: {', '.join(self.names())})"

    # -- registering ----------------------------------------------------------------------
    @overload
    def register(self, obj: T, /) -> T: ...

    @overload
    def register(self, obj: None = None, /, *, name: str) -> Callable[[T], T]: ...

    def register(self, obj: T | None = None, /, *, name: str | None = None) -> T | Callable[[T], T]:
        """Class decorator: ``@reg.register`` (name from the class's ``key`` attribute) or ``@reg.register(name=...)``."""
        if obj is None:
            if name is None:
                raise TypeError("register() needs the object or name=...")
            given = name

            def decorate(item: T) -> T:
                self._add(given, item)
                return item

            return decorate
        self._add(name if name is not None else self._name_of(obj), obj)
        return obj

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"module.path:Attr"``, imported the first time :meth:`get` asks for ``name``."""
        module, sep, attr = target.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"lazy {self.noun} {name!r}: expected 'module.path:Attr', got {target!r}")
        self._check_free(name)
        self._lazy[name] = target

    def _name_of(self, obj: T) -> str:
        name = getattr(obj, self.key, None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{obj!r} has no {self.key!r} to register it as a {self.noun} by")
        return name

    def _add(self, name: str, obj: T) -> None:
        self._check_free(name, obj)
        self._loaded[name] = obj

    def _check_free(self, name: str, obj: object = None) -> None:
        """Two plug-ins under one name is a mistake; registering the same one again (a reload) is not."""
        old = self._loaded.get(name)
        if name in self._lazy or (old is not None and _qualname(old) != _qualname(obj)):
            raise ValueError(f"{self.noun} {name!r} is already registered")

    # -- looking up -----------------------------------------------------------------------
    def get(self, name: str, *, where: str | None = None) -> T:
        """The entry for ``name``; a one-line ConfigError (prefixed ``where: ``) names the known ones."""
        if name in self._loaded:
            return self._loaded[name]
        prefix = f"{where}: " if where else ""
        target = self._lazy.get(name)
        if target is None:
            message = self._unknown.format(noun=self.noun, name=name, known=", ".join(self.names()))
            raise ConfigError(prefix + message)
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(prefix + self._unavailable.format(noun=self.noun, name=name, error=exc)) from None
        obj: T = getattr(module, attr)
        self._loaded[name] = obj
        del self._lazy[name]
        return obj

    def find(self, name: str) -> T | None:
        """The entry for ``name``, or None when nobody registered it (a lazy one is imported)."""
        return self.get(name) if name in self else None

    def names(self) -> list[str]:
        """Every registered name, lazy ones included, sorted."""
        return sorted({*self._loaded, *self._lazy})

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) in name order; lazy entries are imported."""
        return [(name, self.get(name)) for name in self.names()]

    def as_dict(self) -> dict[str, T]:
        """A copy as a plain dict, in name order (changing it changes nothing here)."""
        return dict(self.items())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
