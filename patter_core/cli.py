"""The `patter` command: inspect plugins and models, run the demo, serve an agent."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .convert import unstructure
from .registry import Registry
from .specs import MinutePrice, TokenPrice


@click.group()
@click.version_option(package_name="patter-core")
def main() -> None:
    """Patter: an AI voice agent on a phone number."""


def _plugins_data(registry: Registry) -> list[dict[str, Any]]:
    return [
        {
            "plugin": info.source.plugin,
            "distribution": info.source.distribution,
            "version": info.source.version,
            "hooks": list(info.hooks),
            "registered": {kind: list(names) for kind, names in info.registered.items()},
            "error": info.error or None,
        }
        for info in registry.plugins()
    ]


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their hooks, what each registered, and load errors."""
    data = _plugins_data(Registry())
    if as_json:
        click.echo(json.dumps({"plugins": data}, indent=2))
        return
    if not data:
        click.echo("No plugins installed. Install e.g. patter-openai-realtime and patter-twilio.")
    for p in data:
        dist = (
            f"{p['distribution']} {p['version']}" if p["distribution"] else "(not a distribution)"
        )
        click.echo(f"{p['plugin']}  [{dist}]")
        if p["error"]:
            click.echo(f"  LOAD ERROR: {p['error']}")
            continue
        click.echo(f"  hooks: {', '.join(p['hooks']) or '-'}")
        for kind, names in p["registered"].items():
            if names:
                click.echo(f"  {kind}: {', '.join(names)}")


def _price_data(price: Any) -> dict[str, Any] | None:
    if isinstance(price, TokenPrice | MinutePrice):
        data: dict[str, Any] = unstructure(price)
        data["unit"] = "USD per 1M tokens" if isinstance(price, TokenPrice) else "USD per minute"
        return {k: v for k, v in data.items() if v is not None}
    return None


def _models_data(registry: Registry) -> list[dict[str, Any]]:
    pricing = registry.pricing()
    rows: list[dict[str, Any]] = []
    for engine_name, registered in sorted(registry.engines.items()):
        table = pricing.get(engine_name)
        prices = table.models if table is not None else {}
        spec = registered.item
        for model in spec.models:
            row = unstructure(model)
            row["audio_formats"] = [str(f) for f in model.audio_formats]
            rows.append(
                {
                    "engine": engine_name,
                    "kind": "conversation" if model.conversation else "not for agents",
                    **row,
                    "price": _price_data(prices.get(model.name)),
                    "declared_by": str(registered.source),
                }
            )
        for t in spec.transcription_models:
            rows.append(
                {
                    "engine": engine_name,
                    "kind": "transcription",
                    **unstructure(t),
                    "price": _price_data(prices.get(t.name)),
                    "declared_by": str(registered.source),
                }
            )
    return rows


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def models(as_json: bool) -> None:
    """List every engine model with its capabilities and prices."""
    rows = _models_data(Registry())
    if as_json:
        click.echo(json.dumps({"models": rows}, indent=2))
        return
    for r in rows:
        flags = []
        if r["kind"] == "conversation":
            flags.append("tools" if r["tools"] else "no tools")
            if r["reasoning_efforts"]:
                flags.append("reasoning: " + "/".join(r["reasoning_efforts"]))
            if r.get("context_window"):
                flags.append(f"context {r['context_window']:,}")
        elif r["kind"] == "transcription" and r.get("streaming"):
            flags.append("streaming")
        if r.get("status") and r["status"] != "active":
            flags.append(r["status"] + (f" {r['retires_on']}" if r.get("retires_on") else ""))
        if r["kind"] == "not for agents":
            flags.append(f"endpoint {r['endpoint']}")
        click.echo(f"{r['engine']:<16} {r['name']:<30} {r['kind']:<15} {_price_text(r['price'])}")
        if flags:
            click.echo(f"{'':<16} {'':<30} {', '.join(flags)}")


def _price_text(price: dict[str, Any] | None) -> str:
    if price is None:
        return "(no price)"
    if "per_minute" in price:
        return f"${price['per_minute']}/min"
    return (
        f"audio ${price['audio_input']}/${price['audio_output']}, "
        f"text ${price['text_input']}/${price['text_output']} per 1M"
    )


@main.command()
@click.option(
    "--engine", default=None, help="Engine plugin to use (default: the first with a test kit)."
)
@click.option(
    "--carrier", default=None, help="Carrier plugin to use (default: the first with a test kit)."
)
def demo(engine: str | None, carrier: str | None) -> None:
    """Play a complete simulated phone call on 127.0.0.1: no keys, no network."""
    import asyncio
    import logging

    from .demo import run_demo

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run_demo(engine=engine, carrier=carrier, echo=click.echo))


def _load_agent(target: str) -> Any:
    import importlib

    from .app import Agent

    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise click.BadParameter("expected MODULE:ATTRIBUTE, e.g. app:agent", param_hint="TARGET")
    sys.path.insert(0, "")
    module = importlib.import_module(module_name)
    agent = getattr(module, attr, None)
    if not isinstance(agent, Agent):
        raise click.BadParameter(
            f"{target} is {type(agent).__name__}, not an Agent built with phone.agent(...)",
            param_hint="TARGET",
        )
    return agent


@main.command()
@click.argument("target")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--public-url", default="", help="https URL the carrier reaches this server at.")
@click.option("--grace", default=30.0, show_default=True, help="Seconds live calls get on SIGTERM.")
def serve(target: str, host: str, port: int, public_url: str, grace: float) -> None:
    """Serve the agent TARGET (MODULE:ATTRIBUTE, e.g. app:agent) for real calls."""
    import asyncio

    from .errors import PatterError

    agent = _load_agent(target)
    try:
        asyncio.run(
            agent.phone.serve(agent, host=host, port=port, public_url=public_url, grace_s=grace)
        )
    except PatterError as exc:
        raise click.ClickException(str(exc)) from exc


from . import cli_calls  # noqa: E402, F401  (registers `patter calls` on `main`)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
