"""What every kit test class shares: ``known_failures`` and capability-driven skips."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from ..capabilities import declared
from ..plugins import PluginSource
from ..specs import CarrierSpec, EngineSpec


class ConformanceGroup:
    """Base of the kit's test classes.

    ``known_failures`` maps a test id (``"test_name"``, ``"test_name[param]"`` or
    ``"ClassName::test_name"``) to the reason it is known to fail; each such test runs as
    a strict xfail, so it fails the run again the day it starts passing.
    """

    known_failures: ClassVar[Mapping[str, str]] = {}


def requires(spec: CarrierSpec | EngineSpec, capability: str, group: str) -> None:
    """Skip the calling test, with the reason shown, when ``spec`` does not declare it."""
    if not declared(spec)[capability]:
        kind = "carrier" if isinstance(spec, CarrierSpec) else "engine"
        pytest.skip(
            f"{kind} {spec.name!r} declares {capability}=False, so the {group} tests do not "
            "apply (the undeclared-capability test checks that the core refuses it)"
        )


def same_distribution(source: PluginSource, distribution: str) -> bool:
    """Whether ``source`` came from ``distribution`` (compared as packaging normalises names)."""

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    return source.distribution is not None and norm(source.distribution) == norm(distribution)


def known_failure(item: Any) -> str | None:
    """The reason ``item`` is a known failure of its kit class, if it is listed."""
    cls = getattr(item, "cls", None)
    if cls is None or not issubclass(cls, ConformanceGroup):
        return None
    table = cls.known_failures
    name, original = item.name, getattr(item, "originalname", item.name)
    for key in (f"{cls.__name__}::{name}", name, f"{cls.__name__}::{original}", original):
        if key in table:
            return str(table[key])
    return None


def stale_known_failures(cls: type[ConformanceGroup]) -> list[str]:
    """Entries of ``cls.known_failures`` that name no test of ``cls``."""
    tests = {name for name in dir(cls) if name.startswith("test")}
    stale = []
    for key in cls.known_failures:
        test = key.split("::", 1)[-1].split("[", 1)[0]
        if test not in tests:
            stale.append(key)
    return stale
