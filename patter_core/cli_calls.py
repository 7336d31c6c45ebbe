"""`patter calls`: list logged calls with duration and cost, and show one in full."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from .calllog import ENV_DIR, CallLog
from .cli import main

_DIR_HELP = f"Call log directory (default: ${ENV_DIR} or ./patter-calls)."


@main.group(name="calls", invoke_without_command=True)
@click.option("--dir", "directory", default=None, metavar="DIR", help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("-n", "limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def calls(ctx: click.Context, directory: str | None, as_json: bool, limit: int) -> None:
    """List recent calls: time, call id, caller, duration, cost and why each ended."""
    ctx.obj = {"directory": directory}
    if ctx.invoked_subcommand is not None:
        return
    records = CallLog(directory).recent(limit)
    if as_json:
        click.echo(json.dumps({"calls": records}, indent=2))
        return
    if not records:
        click.echo(f"No calls logged in {CallLog(directory).directory}.")
        return
    click.echo(
        f"{'TIME (UTC)':<20} {'CALL ID':<36} {'CALLER':<16} {'DURATION':>8} {'COST':>10}  END"
    )
    for r in records:
        click.echo(
            f"{_time(r.get('started_at')):<20} {r['call_id']:<36} "
            f"{r.get('caller') or '-'!s:<16} {_duration(r.get('duration_s')):>8} "
            f"{_money(_total(r), 4):>10}  {r.get('end_reason') or '-'}"
        )


@calls.command(name="show")
@click.argument("call_id")
@click.option("--dir", "directory", default=None, metavar="DIR", help=_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the logged record as JSON.")
@click.pass_context
def show(ctx: click.Context, call_id: str, directory: str | None, as_json: bool) -> None:
    """Print one call (CALL_ID, or a unique prefix of it): transcript, metrics and cost."""
    log = CallLog(directory or (ctx.obj or {}).get("directory"))
    record = log.get(call_id)
    if record is None:
        matches = log.find(call_id)
        if len(matches) > 1:
            ids = ", ".join(m["call_id"] for m in matches[:10])
            raise click.ClickException(f"{call_id!r} matches several calls: {ids}")
        if not matches:
            raise click.ClickException(f"no call {call_id!r} in {log.directory}")
        record = matches[0]
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    for line in _describe(record):
        click.echo(line)


def _describe(r: dict[str, Any]) -> list[str]:
    metrics = r.get("metrics") or {}
    lines = [
        f"Call {r['call_id']} ({r.get('direction') or 'unknown direction'})",
        f"  started   {_time(r.get('started_at'))} UTC",
        f"  from      {r.get('caller') or '-'}  to {r.get('callee') or '-'}",
        f"  duration  {_duration(r.get('duration_s'))}   ended: {r.get('end_reason') or '-'}",
    ]
    if metrics:
        lines.append(f"  model     {metrics.get('engine', '?')} {metrics.get('model', '?')}")
    lines += ["", "Transcript:"]
    for entry in r.get("transcript") or []:
        mark = "  [interrupted]" if entry.get("interrupted") else ""
        lines.append(f"  {entry.get('role', '?'):>5}: {entry.get('text', '')}{mark}")
    if not r.get("transcript"):
        lines.append("  (empty)")
    turns = metrics.get("turns") or []
    if turns:
        lines += [
            "",
            "Turns:",
            f"  {'#':>3} {'LATENCY':>9} {'TTFA':>9} {'BARGE-IN':>9} {'COST':>11}",
        ]
        for t in turns:
            flag = "  interrupted" if t.get("interrupted") else ""
            lines.append(
                f"  {t.get('index', '?'):>3} {_ms(t.get('latency_ms')):>9} "
                f"{_ms(t.get('engine_ttfa_ms')):>9} {_ms(t.get('barge_in_reaction_ms')):>9} "
                f"{_money(t.get('cost'), 6):>11}{flag}"
            )
        for key, label in (
            ("latency", "latency"),
            ("engine_ttfa", "engine TTFA"),
            ("barge_in_reaction", "barge-in"),
        ):
            p = metrics.get(key) or {}
            if p.get("count"):
                values = " / ".join(_ms(p.get(q)) for q in ("p50", "p90", "p95", "p99"))
                lines.append(f"  {label} p50/p90/p95/p99: {values} (n={p['count']})")
    cost = r.get("cost")
    lines += ["", "Cost:"]
    if cost:
        for part in ("engine", "transcription", "carrier", "total"):
            lines.append(f"  {part:<14} {_money(cost.get(part), 6):>12}")
        if metrics.get("carrier_billed_minutes") not in (None, "0"):
            lines.append(f"  carrier billed minutes: {metrics['carrier_billed_minutes']}")
    else:
        lines.append("  (not priced)")
    return lines


def _total(r: dict[str, Any]) -> Any:
    return (r.get("cost") or {}).get("total")


def _money(value: Any, places: int) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "-"
    if value is None or not amount.is_finite():
        return "-"
    return f"${amount.quantize(Decimal(1).scaleb(-places))}"


def _ms(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.0f} ms"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "-"
    whole = int(seconds)  # like a stopwatch: 59.9 s is still 0:59
    return f"{whole // 60}:{whole % 60:02d}"


def _time(iso: Any) -> str:
    if not isinstance(iso, str) or len(iso) < 19:
        return "-"
    return iso[:19].replace("T", " ")
