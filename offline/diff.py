"""Desired-state difference between two previews of the same stacks (before: a git ref; after: here).

Resources are matched by URN (or by an alias the program declares). A change to an input that the
provider cannot update in place is a replacement (`offline.replacements`). As in the engine, a replaced or
added resource's computed outputs (ids, ARNs, addresses, generated values) are unknown until apply: every
input that takes one is shown as unknown, and replaces its resource when it forces replacement,
transitively. The mock engine gives a replaced resource the same id as before, so which inputs take
such values is found by running the program again with other computed values for those resources
(`RecordingMocks.renewed`): the inputs whose real values differ are the ones the engine cannot know.

What a reviewer must see first is classified by `offline.impact`: dangerous (data) and disruptive (downtime).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from offline import impact, replacements

Renewed = frozenset[tuple[str, str]]
Rerun = Callable[[Renewed, Renewed], dict[str, Any]]
"""Runs the program of the `after` side again as a preview where what the resources (type, name) of the first
set compute, id included, and what those of the second compute but their id, is unknown."""
MAX_ROUNDS = 12
"""Each round adds the resources newly replaced by unknown values; a chain longer than this is a bug."""


def _resources(document: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in (document or {}).get("resources", []) if r["custom"]}


def _matches(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """New URN -> old URN: the same URN, or an alias the new resource declares for an old one."""
    matched = {urn: urn for urn in new if urn in old}
    for urn, resource in new.items():
        if urn in matched:
            continue
        for alias in resource.get("aliases") or []:
            if alias in old and alias not in matched.values():
                matched[urn] = alias
                break
    return matched


def _differs(was: dict[str, Any], now: dict[str, Any], key: str) -> bool:
    """Compares real values through their fingerprints (masked secrets all look alike)."""
    before, after = was.get("fingerprints") or {}, now.get("fingerprints") or {}
    if key in before or key in after:
        return before.get(key) != after.get(key)
    return bool(was["inputs"].get(key) != now["inputs"].get(key))


def _changed_inputs(was: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return sorted(key for key in set(was["inputs"]) | set(now["inputs"]) if _differs(was, now, key))


def _unknown_inputs(plain: dict[str, Any], renewed: dict[str, Any]) -> list[str]:
    """Inputs whose value changes when the provider computes other values: unknown until apply."""
    return sorted(key for key in set(plain["inputs"]) | set(renewed["inputs"]) if _differs(plain, renewed, key))


def _top(path: str) -> str:
    """The input a property path starts with: `triggers[*]`, `tags.Name` -> `triggers`, `tags`."""
    return path.split(".", 1)[0].split("[", 1)[0]


def _options(was: dict[str, Any], now: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: {"before": was["options"].get(key), "after": now["options"].get(key)}
        for key in ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges", "provider")
        if was["options"].get(key) != now["options"].get(key)
    }


def diff_stack(
    before: dict[str, Any] | None, after: dict[str, Any] | None, rerun: Rerun | None = None
) -> dict[str, Any]:
    """Added, removed, changed and replaced resources of one stack, with what is dangerous or disruptive.

    `rerun` (the after side's program, run again with renewed computed values) finds the inputs that are
    unknown until apply; without it, only the changes the documents show are reported.
    """
    old, new = _resources(before), _resources(after)
    stack = (after or before or {}).get("stack", "")
    matched = _matches(old, new)
    added = sorted(set(new) - set(matched))
    removed = sorted(set(old) - set(matched.values()))
    direct = {urn: _changed_inputs(old[was], new[urn]) for urn, was in matched.items()}
    unknown: dict[str, set[str]] = {}

    def ignored_of(urn: str) -> set[str]:
        return {_top(path) for path in new[urn]["options"].get("ignoreChanges") or []}

    def changed_inputs(urn: str) -> list[str]:
        return sorted((set(direct[urn]) | unknown.get(urn, set())) - ignored_of(urn))

    def forcing(urn: str) -> list[str]:
        now, was = new[urn], old[matched[urn]]
        found = replacements.forcing(
            now["type"],
            changed_inputs(urn),
            [_top(path) for path in now["options"].get("replaceOnChanges") or []],
            was["inputs"],
            now["inputs"],
            unknown=unknown.get(urn, set()),
        )
        if (was["options"].get("provider") or "") != (now["options"].get("provider") or ""):
            found.append("provider")  # a resource moved to another provider is created by that one
        return found

    def recomputed_by_this_change() -> set[str]:
        """Updated resources whose outputs the update computes again (a command that runs again)."""
        return {
            urn
            for urn in matched
            if urn not in replaced and changed_inputs(urn) and replacements.recomputed_on_update(new[urn]["type"])
        }

    def keys(urns: set[str] | list[str]) -> Renewed:
        return frozenset((new[urn]["type"], new[urn]["name"]) for urn in urns)

    baseline: dict[str, Any] | None = None

    replaced = {urn for urn in matched if forcing(urn)}
    rounds = 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise RuntimeError(f"{stack}: replacements still spreading after {MAX_ROUNDS} rounds")
        # The engine replaces a delete-before-replace resource's dependents first when the inputs that take its
        # outputs would force them to (its `calculateDependentReplacements`): those inputs count as unknown.
        for urn in list(replaced):
            if not replacements.deleted_before_replaced(new[urn]["type"], new[urn]["options"]):
                continue
            for dependent in matched:
                for key, sources in (new[dependent].get("inputDependencies") or {}).items():
                    if urn in sources:
                        unknown.setdefault(dependent, set()).add(key)
        renewing, recomputing = {*added, *replaced}, recomputed_by_this_change()
        if rerun is not None and before is not None and after is not None and (renewing or recomputing):
            # Both runs are previews: a difference comes from what the engine cannot know, and nothing else.
            baseline = baseline or _resources(rerun(frozenset(), frozenset()))
            renewed = _resources(rerun(keys(renewing), keys(recomputing)))
            for urn in matched:
                if urn in renewed and urn in baseline:
                    unknown.setdefault(urn, set()).update(_unknown_inputs(baseline[urn], renewed[urn]))
        newly = {urn for urn in matched if urn not in replaced and forcing(urn)}
        if not newly and recomputed_by_this_change() == recomputing:
            break
        replaced |= newly

    changed = []
    ignored_only = []
    for urn in sorted(matched):
        was, now = old[matched[urn]], new[urn]
        ignored = ignored_of(urn)
        options = _options(was, now)
        shown = [key for key in direct[urn] if key not in ignored]
        unknowns = [key for key in sorted(unknown.get(urn, set())) if key not in ignored and key not in shown]
        if not shown and not unknowns and not options:
            if set(direct[urn]) & ignored:
                ignored_only.append({**_brief(now), "inputs": sorted(set(direct[urn]) & ignored)})
            continue
        because = forcing(urn) if urn in replaced else []
        # An input that takes a value computed on apply is unknown, even where the mock engine shows one.
        changes = [
            {"input": key, "before": was["inputs"].get(key), "after": None, "unknown": True}
            if key in unknown.get(urn, [])
            else {"input": key, "before": was["inputs"].get(key), "after": now["inputs"].get(key)}
            for key in [*shown, *unknowns]
        ]
        changed.append(
            {
                **_brief(now),
                "changes": sorted(changes, key=lambda c: c["input"]),
                "ignored": sorted(set(direct[urn]) & ignored),
                "options": options,
                "replace": urn in replaced,
                "replaceBecause": because,
                "stopStart": replacements.stops_and_starts(now["type"], shown) if urn not in replaced else [],
                **({"decidedAtApply": True} if replacements.decided_at_apply(now["type"]) else {}),
            }
        )
    result = {
        "stack": stack,
        "new": before is None,
        "deleted": after is None,
        "added": [_brief(new[urn]) for urn in added],
        "removed": [_brief(old[urn]) for urn in removed],
        "changed": changed,
        "ignored": ignored_only,
        "cost": cost_delta(before, after),
    }
    return result | impact.assess(result, before, after)


def _cost(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """A document's `cost`; a document without one (previewed by a version before the estimate, at the base
    ref) is estimated here, with the same shipped price table, so both sides are priced alike."""
    if document is None:
        return None
    if isinstance(document.get("cost"), dict):
        return dict(document["cost"])
    from constellab.cost import estimate, prices

    table = prices.shipped()
    return estimate.estimate(document, table, document.get("region")).brief(table.built)


BOUNDS = ("exact", "atLeast", "atMost", "approximate")
"""How a priced change relates to the real one: `exact` when both sides lack the same prices (or none);
`atLeast` when only the new side adds costs without a price; `atMost` when only the base had some; else
`approximate`."""


UnknownAmounts = dict[tuple[str, str], float]
"""A server's costs without a price: (item, unit) → the quantity of it (an item of unknown quantity counts 1)."""


def _unknown_items(side: dict[str, Any] | None) -> UnknownAmounts | None:
    """A server's costs without a price, summed per item (None: a base previewed before they were listed,
    with some)."""
    if side is None:
        return {}
    items = side.get("unknownItems")
    if not isinstance(items, list) or not all(isinstance(entry, dict) for entry in items):
        return {} if not side.get("priceUnknown") else None
    amounts: UnknownAmounts = {}
    for entry in items:
        key = (str(entry.get("item")), str(entry.get("unit")))
        quantity = entry.get("quantity")
        amounts[key] = amounts.get(key, 0.0) + (float(quantity) if isinstance(quantity, int | float) else 1.0)
    return amounts


def _bound(before: UnknownAmounts | None, after: UnknownAmounts | None) -> str:
    if before is None or after is None:
        known = after if before is None else before
        if known == {}:  # the other side's unknowns are not listed, but this side has none
            return "atMost" if before is None else "atLeast"
        return "approximate"
    keys = before.keys() | after.keys()
    more = any(after.get(key, 0.0) > before.get(key, 0.0) for key in keys)
    less = any(after.get(key, 0.0) < before.get(key, 0.0) for key in keys)
    if not more and not less:
        return "exact"
    if more and less:
        return "approximate"
    return "atLeast" if more else "atMost"


def _stack_bound(bounds: list[str]) -> str:
    found = set(bounds) - {"exact"}
    if not found:
        return "exact"
    return found.pop() if len(found) == 1 else "approximate"


def cost_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """How the monthly estimate moves from the base (`before`; None: a new stack) to now, per stack and per
    server (only the servers whose month moves, or may: a cost without a price that is not the same on both
    sides). `bound` says how the priced change relates to the real one (`BOUNDS`); `complete` is whether it
    is exact."""
    old, new = _cost(before), _cost(after)
    old_servers, new_servers = (old or {}).get("servers", {}), (new or {}).get("servers", {})
    same_region = before is None or after is None or before.get("region") == after.get("region")
    servers, bounds = [], []
    for name in sorted(old_servers.keys() | new_servers.keys()):
        was_side, now_side = old_servers.get(name), new_servers.get(name)
        was = (was_side or {}).get("monthlyUsd")
        now = (now_side or {}).get("monthlyUsd")
        moved = round((now or 0.0) - (was or 0.0), 2)
        bound = _bound(_unknown_items(was_side), _unknown_items(now_side))
        if not same_region and any(side.get("priceUnknown") for side in (was_side, now_side) if side):
            bound = "approximate"  # the same costs without a price in another region are not the same costs
        bounds.append(bound)
        # a server that comes or goes with nothing to price (on-prem, or the shared part of a new stack) moves nothing
        if moved != 0 or bound != "exact":
            servers.append(
                {
                    "name": name,
                    "beforeMonthlyUsd": was,
                    "afterMonthlyUsd": now,
                    "deltaMonthlyUsd": moved,
                    "complete": bound == "exact",
                    "bound": bound,
                }
            )
    was_total = old["monthlyUsd"] if old else None
    now_total = new["monthlyUsd"] if new else None
    bound = _stack_bound(bounds)
    return {
        "beforeMonthlyUsd": was_total,
        "afterMonthlyUsd": now_total,
        "deltaMonthlyUsd": round((now_total or 0.0) - (was_total or 0.0), 2),
        "complete": bound == "exact",
        "bound": bound,
        "servers": servers,
    }


def _brief(resource: dict[str, Any]) -> dict[str, Any]:
    return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"]}


def diff(
    before: dict[str, dict[str, Any] | None],
    after: dict[str, dict[str, Any]],
    ref: str,
    rerun: Callable[[str, Renewed, Renewed], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The difference of every stack; `rerun(stack, renewed, recomputed)` runs a stack's program again as a
    preview (see `diff_stack`)."""
    stacks = sorted(set(before) | set(after))

    def rerun_of(stack: str) -> Rerun | None:
        if rerun is None:
            return None
        return lambda renewed, recomputed: rerun(stack, renewed, recomputed)

    return {"against": ref, "stacks": [diff_stack(before.get(s), after.get(s), rerun_of(s)) for s in stacks]}
