"""The cost estimate as text, JSON and Markdown (a table per stack with a bar per server)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from constellab.cost.estimate import HOURS_PER_MONTH, Line, ServerCost, StackCost
from constellab.cost.prices import PriceTable

BAR_WIDTH = 20
"""Characters of the longest bar in the Markdown tables."""


def usd(value: float) -> str:
    return f"${value:,.2f}"


def _unit_price(line: Line) -> str:
    if line.unit_price is None:
        return "unit price unknown"
    return f"${line.unit_price:g}/{line.unit}"


def _quantity(line: Line) -> str:
    if line.quantity is None:
        return ""
    return f"{line.quantity:,.2f}".rstrip("0").rstrip(".") + f" {line.unit}"


def total(cost: StackCost) -> str:
    """The stack's total: exact when every fixed cost has a price, a lower bound otherwise."""
    if cost.complete:
        return f"{usd(cost.monthly)}/month"
    return f"at least {usd(cost.monthly)}/month ({cost.unknown} item{'s' if cost.unknown > 1 else ''} price unknown)"


def _server_total(server: ServerCost) -> str:
    text = f"{usd(server.monthly)}/month"
    return text + (f" + {server.unknown} price unknown" if server.unknown else "")


def saving_text(server: ServerCost) -> str | None:
    saving = server.saving
    if saving is None:
        return None
    if saving.weekly_hours is None:
        what = f"parked: no instance hours instead of {HOURS_PER_MONTH:g}"
    else:
        what = f"schedule: {saving.instance_hours:.2f} h/month instead of {HOURS_PER_MONTH:g}"
    return f"{what}, saves {usd(saving.monthly)}/month ({saving.percent:.1f}% of running it always on)"


def render_text(costs: Sequence[StackCost], table: PriceTable) -> str:
    out: list[str] = []
    for cost in costs:
        out.append(f"{cost.stack} ({cost.region or 'no AWS region'}): {total(cost)}")
        out += [f"  note: {note}" for note in cost.notes]
        for server in cost.servers:
            head = f"  {server.name} [{server.role}, {server.placement}, {server.power}]"
            if not server.in_aws:
                out.append(f"{head}: {server.note or 'no fixed cost'}")
            else:
                out.append(f"{head}: {_server_total(server)}")
                if server.instance_hours is not None:
                    out.append(f"    hours: {server.hours_basis}")
            for line in server.lines:
                if line.kind == "fixed":
                    priced = f"{_quantity(line):>16} × {_unit_price(line):<22}"
                    out.append(f"    {line.item:<48} {priced} {usd(line.monthly or 0):>10}")
                elif line.kind == "unknown":
                    out.append(f"    {line.item:<48} {_quantity(line):>16}   {line.note}")
                else:
                    out.append(f"    {line.item:<48} {'':>16}   {line.note}, {_unit_price(line)}")
            if saved := saving_text(server):
                out.append(f"    {saved}")
        out.append("")
    out.append(f"prices: {table.built} table (USD, on-demand, Linux); depends-on-usage lines are not in the totals")
    return "\n".join(out)


def as_data(costs: Sequence[StackCost], table: PriceTable) -> dict[str, Any]:
    return {
        "currency": "USD",
        "prices": {"built": table.built, "sources": table.data.get("sources", {})},
        "stacks": [cost.as_dict() for cost in costs],
    }


def render_json(costs: Sequence[StackCost], table: PriceTable) -> str:
    return json.dumps(as_data(costs, table), indent=2)


def bar(value: float, largest: float, width: int = BAR_WIDTH) -> str:
    """A bar of block characters, `width` long for the largest value (empty for nothing)."""
    if largest <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(width * value / largest))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(costs: Sequence[StackCost], table: PriceTable) -> str:
    out = ["## Monthly cost estimate", ""]
    largest = max((cost.monthly for cost in costs), default=0.0)
    out += ["| stack | region | per month | price unknown | |", "|---|---|---:|---:|---|"]
    for cost in costs:
        out.append(
            f"| {cost.stack} | {cost.region or '-'} | {'' if cost.complete else '≥ '}{usd(cost.monthly)} "
            f"| {cost.unknown} | {bar(cost.monthly, largest)} |"
        )
    for cost in costs:
        out += ["", f"### {cost.stack}: {_cell(total(cost))}", ""]
        out += [f"> {note}" for note in cost.notes]
        servers = [server for server in cost.servers if server.lines]
        if not servers:
            continue
        biggest = max(server.monthly for server in servers)
        out += ["| server | power | hours/month | per month | price unknown | |", "|---|---|---:|---:|---:|---|"]
        for server in servers:
            hours = "-" if server.instance_hours is None else f"{server.instance_hours:.2f}".rstrip("0").rstrip(".")
            out.append(
                f"| {server.name} | {_cell(server.power)} | {hours} | {usd(server.monthly)} | {server.unknown} "
                f"| {bar(server.monthly, biggest)} |"
            )
        out += ["", "<details><summary>Lines</summary>", ""]
        out += ["| server | item | quantity | unit price | per month |", "|---|---|---:|---:|---:|"]
        for server in servers:
            for line in server.lines:
                monthly = usd(line.monthly) if line.monthly is not None else _cell(line.note)
                price = _cell(_unit_price(line))
                out.append(f"| {server.name} | {_cell(line.item)} | {_quantity(line)} | {price} | {monthly} |")
        savings = [(server.name, text) for server in servers if (text := saving_text(server))]
        out += ["", "</details>"]
        if savings:
            out += [""] + [f"- **{name}**: {text}" for name, text in savings]
    out += ["", f"_Prices: {table.built} table (USD, on-demand, Linux). Usage-based costs are listed, not totalled._"]
    return "\n".join(out) + "\n"
