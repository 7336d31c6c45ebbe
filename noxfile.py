"""The test matrix: the core, every plugin under plugins/, lint and type checks.

``nox`` runs everything; ``nox -l`` lists the sessions. Sessions use the Python that runs
nox (3.11 or newer), so the README's one-line set-up works whatever ``python3`` is.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
# The plugins the core's own tests, docs and demo run against (the others bring their own).
FIRST_PARTY = ("openai-realtime", "twilio")

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False


def _install_tree(session: nox.Session, *plugins: str) -> None:
    """The in-tree core with its testing extra, plus the named in-tree plugins with theirs."""
    session.install("-e", ".[testing]")
    for name in dict.fromkeys(plugins):
        session.install("-e", f"plugins/{name}[testing]")


@nox.session
def core(session: nox.Session) -> None:
    """The core's tests, with the first-party plugins installed as a user would."""
    _install_tree(session, *FIRST_PARTY)
    session.run("pytest", "-q", "tests", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin's own tests, run inside its folder against the in-tree core."""
    _install_tree(session, *FIRST_PARTY, plugin)
    session.chdir(f"plugins/{plugin}")
    session.run("pytest", "-q", *session.posargs)


@nox.session
@nox.parametrize("package", ["core", *PLUGINS])
def lowest(session: nox.Session, package: str) -> None:
    """The same tests against the oldest dependency versions each package declares.

    uv's ``lowest-direct`` resolution picks the minimum of every declared range, so a
    package that quietly relies on something newer than it declares fails here.
    """
    session.install("uv")
    plugins = FIRST_PARTY if package == "core" else (*FIRST_PARTY, package)
    editables = [".[testing]", *(f"plugins/{name}[testing]" for name in dict.fromkeys(plugins))]
    session.run(
        "uv",
        "pip",
        "install",
        "--python",
        str(Path(session.bin) / "python"),
        "--resolution",
        "lowest-direct",
        *(arg for e in editables for arg in ("-e", e)),
    )
    if package == "core":
        session.run("pytest", "-q", "tests", *session.posargs)
    else:
        session.chdir(f"plugins/{package}")
        session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the core and every plugin package."""
    _install_tree(session, *PLUGINS)
    session.install("mypy")
    packages = ["patter_core"] + [
        str(next(p for p in (ROOT / "plugins" / n).iterdir() if (p / "py.typed").exists()))
        for n in PLUGINS
    ]
    session.run("mypy", "--strict", *packages)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark (not run by default): ``nox -s bench -- --scenario duplex --calls 50``."""
    _install_tree(session, *FIRST_PARTY)
    session.run("python", "-m", "bench", *session.posargs)
