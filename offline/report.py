"""Pull-request renderings of previews: one Markdown comment for all stacks, and the difference as text.

The comment puts first what a reviewer must see (dangerous and disruptive changes, mandatory guardrail
violations), then one line per stack, then details and a diagram for the stacks that change. It fits
GitHub's limit on a comment (65,536 characters) whatever the number of stacks: what does not fit is
left out whole, a stack's section at a time (so a cut never lands inside a code block), and the comment
says so and links the full report.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from offline.diagram import mermaid
from policies.rules.common import short_type

MARKER = "<!-- constellab-preview -->"
COMMENT_LIMIT = 65_536
"""GitHub's limit on the body of an issue or pull-request comment, in characters (JavaScript's: UTF-16 units)."""
MARGIN = 200
"""Kept free below the limit: preview-comment.yml adds the marker line when missing, and cuts past this."""


def size(text: str) -> int:
    """A text's length as GitHub and the comment workflow's JavaScript count it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


MAX_VALUE = 80
MAX_LISTED = 40
"""Items of one list (dangerous changes, violations...) shown in the comment before '… and N more'."""


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    text = text.replace("\n", "⏎").replace("|", "\\|").replace("`", "'")
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _counts(stack_diff: dict[str, Any] | None) -> tuple[str, str, str, str]:
    if stack_diff is None:
        return ("–", "–", "–", "–")
    replaced = sum(1 for c in stack_diff["changed"] if c["replace"])
    return (
        str(len(stack_diff["added"])),
        str(len(stack_diff["changed"]) - replaced),
        str(replaced),
        str(len(stack_diff["removed"])),
    )


def money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def signed(value: float) -> str:
    """A monthly change: `+$53.82`, `−$3.00`, or `$0.00`."""
    if round(value, 2) == 0:
        return "$0.00"
    return f"{'+' if value > 0 else '−'}${abs(value):,.2f}"


def cost_cell(document: dict[str, Any]) -> str:
    """A stack's month in the summary table: `≥` when a price is unknown (the total is a lower bound)."""
    cost = document.get("cost")
    if cost is None:
        return "–"
    return ("" if cost["complete"] else "≥ ") + money(cost["monthlyUsd"])


BOUND_MARKS = {"exact": "", "atLeast": "≥ ", "atMost": "≤ ", "approximate": "~ "}
"""The summary table's mark of a change whose costs without a price are not the same on both sides."""

BOUND_WORDS = {
    "atLeast": "at least: the change adds costs without a price",
    "atMost": "at most: the base had costs without a price",
    "approximate": "about: costs without a price change too, or are not known on both sides",
}


def _bound(cost: dict[str, Any]) -> str:
    return str(cost.get("bound") or ("exact" if cost.get("complete", True) else "approximate"))


def delta_cell(stack_diff: dict[str, Any] | None) -> str:
    """A stack's monthly change in the summary table, marked (`BOUND_MARKS`) when it is a bound of the real one."""
    if stack_diff is None or "cost" not in stack_diff:
        return "–"
    cost = stack_diff["cost"]
    return BOUND_MARKS[_bound(cost)] + signed(cost["deltaMonthlyUsd"])


def bound_note(cost: dict[str, Any]) -> str:
    """` (at least: …)` after a change that is not exact, nothing after an exact one."""
    bound = _bound(cost)
    return "" if bound == "exact" else f" ({BOUND_WORDS[bound]})"


def cost_moves(stack_diff: dict[str, Any]) -> list[str]:
    """Each server whose month moves: `lab3: – → $72.56 (+$72.56)` (– where it is absent), saying how it bounds
    the real change when costs without a price differ between the sides."""
    return [
        f"{item['name']}: {money(item['beforeMonthlyUsd'])} → {money(item['afterMonthlyUsd'])} "
        f"({signed(item['deltaMonthlyUsd'])}{'' if _bound(item) == 'exact' else '; ' + BOUND_WORDS[_bound(item)]})"
        for item in stack_diff.get("cost", {}).get("servers", [])
    ]


def changes_anything(stack_diff: dict[str, Any] | None) -> bool:
    return stack_diff is None or bool(stack_diff["added"] or stack_diff["removed"] or stack_diff["changed"])


def downtime(item: dict[str, Any]) -> bool:
    """A hub or the space stops (or a system container of it): everyone who uses the platform notices."""
    return bool(item.get("downtime")) and item.get("role") in ("hub", "space")


def disrupted_servers(stack_diff: dict[str, Any]) -> list[str]:
    """The servers a change interrupts, always-on ones first, each once (`hub (downtime)`)."""
    items = stack_diff.get("disruptive", [])
    down = {item.get("server") for item in items if downtime(item)}
    found: list[str] = []
    for item in items:
        server = item.get("server")
        text = f"{server} (downtime)" if server in down else str(server)
        if server is not None and text not in found:
            found.append(text)
    return found


def decided_at_apply(stack_diff: dict[str, Any]) -> list[str]:
    """Servers whose power gates change: whether the up starts them (and puts them back) is known at apply."""
    servers = []
    for item in stack_diff.get("changed", []):
        if item.get("decidedAtApply"):
            server = item["name"].rsplit("-host-", 1)[0].split("-", 1)[-1]
            if server not in servers:
                servers.append(server)
    return servers


def verdict(stack_diff: dict[str, Any] | None) -> str:
    """One line a reviewer reads first: how many dangerous and disruptive changes, or that there are none."""
    if stack_diff is None:
        return "no comparison"
    if stack_diff["new"]:
        return "new stack: everything is created"
    if not changes_anything(stack_diff):
        return "no change"
    dangerous, disruptive = len(stack_diff["dangerous"]), len(stack_diff["disruptive"])
    if not dangerous and not disruptive:
        return "no dangerous or disruptive change"
    parts = []
    if dangerous:
        parts.append(f"⚠️ {dangerous} dangerous")
    if disruptive:
        parts.append(f"🔌 {disruptive} disruptive: {', '.join(disrupted_servers(stack_diff))}")
    return " · ".join(parts)


def _listed(items: list[str], what: str) -> list[str]:
    shown = items[:MAX_LISTED]
    if len(items) > MAX_LISTED:
        shown.append(f"- … and {len(items) - MAX_LISTED} more {what} (see the full report)")
    return shown


def _head(documents: list[dict[str, Any]], diffs: dict[str, dict[str, Any]], against: str | None) -> list[str]:
    compared = f" against `{against}`" if against else ""
    lines = [
        MARKER,
        "## Constellab preview",
        "",
        f"Offline preview of {len(documents)} stack(s){compared}, under Pulumi's mock engine: nothing was created.",
    ]
    if diffs:
        dangerous = sum(len(d["dangerous"]) for d in diffs.values())
        disruptive = sum(len(d["disruptive"]) for d in diffs.values())
        touched = sum(1 for d in diffs.values() if changes_anything(d))
        lines += ["", f"**{dangerous} dangerous and {disruptive} disruptive change(s); {touched} stack(s) change.**"]
    dangerous_lines = [
        f"- **{stack}** `{item['name']}` ({short_type(item['type'])})"
        + (f" on {item['server']}" if item.get("server") else "")
        + f" — {item['action']}: {item['reason']}"
        for stack, d in diffs.items()
        for item in d["dangerous"]
    ]
    if dangerous_lines:
        lines += ["", "### ⚠️ Dangerous: data is removed or replaced", "", *_listed(dangerous_lines, "dangerous")]
    disruptive_lines = [
        f"- **{stack}** {item.get('server', '?')}"
        + (" (**downtime**)" if downtime(item) else "")
        + f": {item['reason']} — `{item['name']}`"
        for stack, d in diffs.items()
        for item in d["disruptive"]
    ]
    if disruptive_lines:
        lines += [
            "",
            "### 🔌 Disruptive: a server or its system containers stop",
            "",
            *_listed(disruptive_lines, "disruptive"),
        ]
    violations = [
        f"- **{d['stack']}** `{v['rule']}`: {v['message']}"
        for d in documents
        for v in d["policies"]
        if v["level"] == "mandatory"
    ]
    if violations:
        lines += ["", "### ❌ Mandatory guardrail violations", "", *_listed(violations, "violations")]
    lines += [
        "",
        "| stack | resources | added | changed | replaced | removed | mandatory violations | verdict "
        "| cost/month | Δ cost/month |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for document in documents:
        stack_diff = diffs.get(document["stack"])
        mandatory = sum(1 for v in document["policies"] if v["level"] == "mandatory")
        lines.append(
            f"| {document['stack']} | {document['summary']['resources']} | "
            + " | ".join(_counts(stack_diff))
            + f" | {mandatory} | {verdict(stack_diff)} | {cost_cell(document)} | {delta_cell(stack_diff)} |"
        )
    if any(document.get("cost") for document in documents):
        lines += [
            "",
            "_Cost: monthly estimate in USD of what each stack declares on AWS (on-demand prices of the shipped "
            "table, usage-based S3, data transfer and scheduler costs not included); ≥ on a month: some prices are "
            "unknown, it is a lower bound; ≥, ≤ or ~ on a change: it is at least, at most or about that, costs "
            "without a price differing between the two sides. `ops cost` shows every line._",
        ]
    return lines


def markdown(
    documents: list[dict[str, Any]],
    diff: dict[str, Any] | None = None,
    *,
    limit: int | None = COMMENT_LIMIT - MARGIN,
    full_report: str | None = None,
    before: dict[str, dict[str, Any] | None] | None = None,
) -> str:
    """One pull-request comment for every selected stack, at most `limit` characters (None: no limit).

    Details and a diagram come only for the stacks that change (all stacks without `diff`); `full_report`
    (a link) is where a reader finds what did not fit. Without a limit (the full report), each stack's
    section also lists its resources by type and its outputs.
    """
    diffs = {d["stack"]: d for d in (diff or {}).get("stacks", [])}
    head = "\n".join(_head(documents, diffs, diff["against"] if diff else None)) + "\n"
    sections = [
        "\n".join(_stack_section(d, diffs.get(d["stack"]), (before or {}).get(d["stack"]), limit is None)) + "\n"
        for d in documents
        if diff is None or changes_anything(diffs.get(d["stack"]))
    ]
    where = f"the [full report]({full_report})" if full_report else "the full report (`--full-report`)"
    body = head
    for index, section in enumerate(sections):
        rest = len(sections) - index
        note = f"\n_{rest} more stack section(s) did not fit in this comment: see {where}._\n"
        if limit is not None and size(body) + size(section) + size(note) > limit:
            body += note
            break
        body += section
    if limit is not None and size(body) > limit:  # the head alone is too long: cut it at a line, no code block in it
        ending = f"\n\n_The comment is cut here: see {where}._\n"
        lines = body.split("\n")
        while lines and size("\n".join(lines)) + size(ending) > limit:
            lines.pop()
        body = "\n".join(lines) + ending
    return body


def _stack_section(
    document: dict[str, Any], stack_diff: dict[str, Any] | None, before: dict[str, Any] | None, full: bool
) -> list[str]:
    """A stack's diagram, changes and guardrails; `full` adds its resources by type and its outputs."""
    lines = ["", f"### {document['stack']}", "", "```mermaid", mermaid(document, stack_diff, before), "```"]
    if stack_diff is not None:
        total = len(stack_diff["added"]) + len(stack_diff["changed"]) + len(stack_diff["removed"])
        lines += ["", f"<details><summary>Changes ({total}): {verdict(stack_diff)}</summary>", ""]
        if stack_diff["new"]:
            lines.append("_New stack: every resource is added._")
        for item in stack_diff["added"]:
            lines.append(f"- ➕ `{item['name']}` ({short_type(item['type'])})")
        for item in stack_diff["removed"]:
            lines.append(f"- ➖ `{item['name']}` ({short_type(item['type'])})")
        changed = [_changed_line(item, full) for item in stack_diff["changed"]]
        lines += changed if full else _listed(changed, "changed resources")
        ignored = [f"`{item['name']}` ({', '.join(item['inputs'])})" for item in stack_diff.get("ignored", [])]
        if ignored:
            lines.append(f"- ignored by the program (`ignore_changes`), so unchanged: {', '.join(ignored)}")
        gated = decided_at_apply(stack_diff)
        if gated:
            lines.append(
                f"- ⏯ decided at apply: {', '.join(gated)} may be started to deploy on, then put back as declared "
                "(the power gates read each server's real state)"
            )
        lines += ["", "</details>"]
    cost = document.get("cost")
    if cost is not None:
        unknown = f", {cost['priceUnknown']} price unknown" if cost["priceUnknown"] else ""
        month = f"{'at least ' if unknown else ''}{money(cost['monthlyUsd'])}/month{unknown}"
        if stack_diff is not None and "cost" in stack_diff:
            moved = stack_diff["cost"]["deltaMonthlyUsd"]
            note = bound_note(stack_diff["cost"]).removeprefix(" (").removesuffix(")")
            if round(moved, 2) or note:
                month += f" ({signed(moved)} a month{'; ' + note if note else ''})"
            else:
                month += " (unchanged)"
        if cost.get("budgetMonthlyUsd") is not None:
            month += f"; budget {money(cost['budgetMonthlyUsd'])}/month"
        lines += ["", f"**Monthly cost (estimate, USD):** {month}"]
        if stack_diff is not None:
            lines += [f"- {move}" for move in cost_moves(stack_diff)]
    if document["schedules"]:
        servers = (cost or {}).get("servers", {})
        header = "| scheduled lab | weekly hours | stopped (share of the week) | saving/month |"
        lines += ["", header, "|---|---:|---:|---:|"]
        lines += [
            f"| {lab} | {u['weeklyRunningHours']} | {u['savingPercent']}% | {_saving(servers.get(lab))} |"
            for lab, u in document["schedules"].items()
        ]
    lines += ["", f"<details><summary>Guardrails ({len(document['policies'])} violation(s))</summary>", ""]
    lines += [f"- [{v['level']}] `{v['rule']}`: {v['message']}" for v in document["policies"]] or [
        "All guardrails pass."
    ]
    lines += ["", "</details>"]
    if not full:
        return lines
    lines += ["", "<details><summary>Resources by type</summary>", "", "| type | count |"]
    lines += ["|---|---:|", *(f"| `{kind}` | {count} |" for kind, count in document["summary"]["byType"].items())]
    outputs = yaml.safe_dump(document["outputs"], sort_keys=True, default_flow_style=False, width=120).rstrip()
    lines += ["", "</details>", "", "<details><summary>Outputs (secrets masked)</summary>", "", "```yaml", outputs]
    lines += ["```", "", "</details>"]
    return lines


def _saving(server: dict[str, Any] | None) -> str:
    saving = (server or {}).get("saving")
    return money(saving["savingMonthlyUsd"]) if saving else "price unknown"


def _changed_line(item: dict[str, Any], full: bool) -> str:
    """One changed resource: what happens to it, and its changed inputs (below it, in the full report)."""
    verb = "🔁 replace" if item["replace"] else "✏️ update"
    because = f" (because of {', '.join(item['replaceBecause'])})" if item["replace"] else ""
    restart = f" (stops and starts it: {', '.join(item['stopStart'])})" if item.get("stopStart") else ""
    head = f"- {verb} `{item['name']}` ({short_type(item['type'])}){because}{restart}"
    inputs = []
    for change in item["changes"]:
        if change.get("unknown"):
            inputs.append(f"`{change['input']}` → _unknown until apply_")
        else:
            inputs.append(f"`{change['input']}`: `{_value(change['before'])}` → `{_value(change['after'])}`")
    inputs += [f"option `{k}`: `{_value(v['before'])}` → `{_value(v['after'])}`" for k, v in item["options"].items()]
    if item.get("ignored"):
        inputs.append(f"ignored by the program (`ignore_changes`): {', '.join(item['ignored'])}")
    if full:
        return "\n".join([head, *(f"  - {text}" for text in inputs)])
    return f"{head}: " + "; ".join(inputs) if inputs else head


def render_diff_text(diff: dict[str, Any]) -> str:
    lines = [f"Difference against {diff['against']}:"]
    for stack in diff["stacks"]:
        counts = ", ".join(
            f"{n} {w}" for n, w in zip(_counts(stack), ("added", "changed", "replaced", "removed"), strict=True)
        )
        lines.append(f"  {stack['stack']}: {counts} — {verdict(stack)}")
        if "cost" in stack:
            cost = stack["cost"]
            lines.append(
                f"    cost: {money(cost['beforeMonthlyUsd'])} → {money(cost['afterMonthlyUsd'])} a month, "
                f"{signed(cost['deltaMonthlyUsd'])}{bound_note(cost)}"
            )
            lines += [f"      {move}" for move in cost_moves(stack)]
        for item in stack["dangerous"]:
            where = f" on {item['server']}" if item.get("server") else ""
            lines.append(
                f"    DANGER {item['name']} ({short_type(item['type'])}){where}: {item['action']}: {item['reason']}"
            )
        for item in stack["disruptive"]:
            down = " (downtime)" if downtime(item) else ""
            lines.append(f"    DISRUPT {item.get('server', '?')}{down}: {item['reason']} ({item['name']})")
        for item in stack["changed"]:
            verb = "replace" if item["replace"] else "update"
            inputs = [c["input"] + (" (unknown until apply)" if c.get("unknown") else "") for c in item["changes"]]
            lines.append(f"    {verb} {item['name']}: {', '.join(inputs) or 'options'}")
    return "\n".join(lines)
