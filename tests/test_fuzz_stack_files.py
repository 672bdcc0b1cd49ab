"""Fuzzed stack files: whatever a stack file holds, validation accepts it or refuses it with `StackConfigError`,
every problem on a line of its own that names its field (issue 16).

Documents come two ways: from the published JSON schema (`stacks/stack.schema.json`), and by mutating the shipped
stacks (a value of another type, a key removed, misspelt or added, deep nesting, long, non-ASCII or NUL text), then
as text (odd scalars, control characters, bytes that are not UTF-8). Each is written to a file and read by
`load_stack_file`, the entry every command uses. Anything but a `StackSettings` or a `StackConfigError` of that form
fails, with the smallest document hypothesis finds. `bench/fuzz.py` runs the same checks 10,000 times and more.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from constellab.schema import SCHEMA_PATH
from constellab.settings import StackConfigError, StackSettings, load_stack_file
from tests.conftest import STACK_NAMES, stack_file

# ---------------------------------------------------------------------------------------------
# The oracle: accepted, or refused in the stack file's terms
# ---------------------------------------------------------------------------------------------

Outcome = Literal["accepted", "refused"]

WHOLE_FILE_PROBLEMS = (
    "not valid YAML: line ",  # always with the line and column
    "a stack file is a YAML mapping",
    "not UTF-8 text",
    "no such file",
    "a directory, not a file",
    "cannot read the file",
)
"""The only problems without a field path (`read_stack_file`, `text_file.read_text`): the file as a whole cannot be
read as a stack file, one problem alone, and YAML's problems name their line and column."""


def check_refusal(error: StackConfigError) -> None:
    """Every problem names its field, on one line (or is the one problem of a file that is no stack file)."""
    assert error.issues, "a refusal without a problem"
    for issue in error.issues:
        line = str(issue)
        assert len(line.splitlines()) == 1, f"a problem over several lines: {line!r}"  # \n, \r, \x85, \u2028...
        assert issue.message.strip(), f"a problem without a message: {issue!r}"
        if not issue.path:
            assert len(error.issues) == 1, f"a problem without its field among others: {line!r}"
            assert issue.message.startswith(WHOLE_FILE_PROBLEMS), f"a problem without its field: {line!r}"


def validate_file(path: Path) -> tuple[Outcome, Outcome]:
    """What validation makes of a stack file, with the secrets required (as `pulumi up`) and not (offline)."""
    outcomes: list[Outcome] = []
    for require_secrets in (True, False):
        try:
            found = load_stack_file(path, require_secrets=require_secrets)
        except StackConfigError as error:
            check_refusal(error)
            outcomes.append("refused")
        else:
            assert isinstance(found, StackSettings)
            outcomes.append("accepted")
    online, offline = outcomes
    assert not (online == "accepted" and offline == "refused"), "refused offline, accepted with its secrets required"
    return online, offline


def write_stack_file(folder: Path, content: str | bytes, name: str = "fuzzed") -> Path:
    path = folder / f"Pulumi.{name}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def as_yaml(document: Any, unicode: bool = True) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=unicode)


# ---------------------------------------------------------------------------------------------
# Documents from the published JSON schema
# ---------------------------------------------------------------------------------------------


@cache
def published_schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


STRUCTURE = {"$ref", "anyOf", "oneOf", "properties", "additionalProperties", "items"}


def schema_documents() -> st.SearchStrategy[Any]:
    """Stack files the published schema accepts.

    The structure (references, alternatives, mappings, lists) is built here once; each value's own constraints
    (patterns, lengths, bounds, enumerations) are hypothesis-jsonschema's. Given the whole schema it re-merges every
    alternative at each draw (about a second per document), and its mappings need a private part of hypothesis that
    hypothesis 6.170.10 removed.
    """
    schema = published_schema()
    definitions = schema["$defs"]
    built: dict[str, st.SearchStrategy[Any]] = {}

    def reference(ref: str) -> st.SearchStrategy[Any]:
        name = ref.removeprefix("#/$defs/")
        if name not in built:
            built[name] = st.deferred(lambda: strategy(definitions[name]))
        return built[name]

    def strategy(node: dict[str, Any]) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            return reference(node["$ref"])
        if "anyOf" in node or "oneOf" in node:
            return st.one_of([strategy(choice) for choice in node.get("anyOf") or node["oneOf"]])
        if node.get("type") == "object" or "properties" in node:
            properties = node.get("properties", {})
            required = set(node.get("required", []))
            fixed = st.fixed_dictionaries(
                {key: strategy(properties[key]) for key in properties if key in required},
                optional={key: strategy(properties[key]) for key in properties if key not in required},
            )
            extra = node.get("additionalProperties", True)
            if not isinstance(extra, dict) or properties:
                return fixed
            return st.dictionaries(st.text(min_size=1, max_size=12), strategy(extra), max_size=3)
        if node.get("type") == "array":
            items = strategy(node.get("items", {}))
            return st.lists(items, min_size=node.get("minItems", 0), max_size=max(node.get("minItems", 0), 3))
        assert not STRUCTURE & set(node), f"a structural keyword left to a leaf: {sorted(node)}"
        leaf = {key: value for key, value in node.items() if key not in ("default", "title", "description")}
        return from_schema(leaf)

    return strategy(schema)


# ---------------------------------------------------------------------------------------------
# Documents from the shipped stacks, mutated
# ---------------------------------------------------------------------------------------------


@cache
def shipped_documents() -> dict[str, Any]:
    return {name: yaml.safe_load(stack_file(name).read_text(encoding="utf-8")) for name in STACK_NAMES}


ODD_TEXT = [
    "",
    " ",
    "\x00",
    "lab\x00",
    "é",
    "ünïcødé-lab",
    "日本",
    "🧪",
    "\u202e",
    "a\nb",
    "null",
    "~",
    "yes",
    "08:00",
    "0x1F",
    "1e3",
    ".inf",
    "-",
    "*",
    "&a",
    "{{ x }}",
    "${HOME}",
    "$(id)",
    "../../etc/passwd",
    "C:\\lab",
    "hub",
    "lab1",
    "space",
    "cloud",
    "onPrem",
    "local",
    "stack",
]
"""Text that has caught parsers out (control characters, YAML words, other servers' names, placements)."""

FIELD_NAMES = [
    "name",
    "hub",
    "hubs",
    "labs",
    "space",
    "kind",
    "mode",
    "placement",
    "configuration",
    "bricks",
    "schedule",
    "periods",
    "backup",
    "images",
    "dns",
    "secure",
    "constellab:platform",
    "constellab:labManagerApiKeys",
    "aws:region",
    "config",
]
"""Keys the documents use: an added one may clash, shadow or be misplaced."""

keys = st.one_of(
    st.sampled_from(FIELD_NAMES),
    st.text(max_size=12),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(ODD_TEXT),
    st.text(max_size=20),
    st.text(st.characters(codec="utf-8", min_codepoint=0x80), min_size=1, max_size=8),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=6,
)

Path_ = tuple[Any, ...]


def paths_of(document: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every place in a document, the document itself first, then depth first in the document's order."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths_of(value, (*prefix, index))
    return found


def at(document: Any, path: Path_) -> Any:
    for step in path:
        document = document[step]
    return document


def kind_of(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def of_another_kind(value: Any) -> st.SearchStrategy[Any]:
    kind = kind_of(value)
    return values.filter(lambda other: kind_of(other) != kind)


def misspelt(key: Any) -> st.SearchStrategy[Any]:
    text = str(key)
    if not text:
        return st.just("x")
    return st.one_of(
        st.integers(0, len(text) - 1).map(lambda i: text[:i] + text[i + 1 :]),
        st.integers(0, len(text) - 1).map(lambda i: text[:i] + text[i].swapcase() + text[i + 1 :]),
        st.integers(0, len(text)).map(lambda i: text[:i] + "x" + text[i:]),
        st.just(f" {text}"),
        st.just(text.replace(":", "_")),
    ).filter(lambda changed: changed != text)


def nested(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"x": value}
    return value


MUTATIONS = ("replace", "remove", "add", "misspell", "deepen", "long text", "odd text")


@st.composite
def mutated_documents(draw: st.DrawFn, least: int = 1, most: int = 3) -> Any:
    """A shipped stack, changed in `least` to `most` places."""
    document = copy.deepcopy(shipped_documents()[draw(st.sampled_from(STACK_NAMES))])
    for _ in range(draw(st.integers(least, most))):
        path = draw(st.sampled_from(paths_of(document)))
        current = at(document, path)
        mutation = draw(st.sampled_from(MUTATIONS))
        replacement: Any
        if mutation == "replace":
            replacement = draw(of_another_kind(current))
        elif mutation == "deepen":
            replacement = nested(current, draw(st.integers(1, 120)), draw(st.booleans()))
        elif mutation == "long text":
            replacement = draw(st.sampled_from(["a", "é", "lab-", "\x00"])) * draw(st.integers(250, 100_000))
        elif mutation == "odd text":
            replacement = draw(st.sampled_from(ODD_TEXT) | st.text(min_size=1, max_size=12))
        elif mutation == "add":
            if isinstance(current, dict):
                current[draw(keys)] = draw(values)
            elif isinstance(current, list):
                current.insert(draw(st.integers(0, len(current))), draw(values))
            continue
        else:  # remove, misspell: a key or item of the place's container
            if not path:
                document = draw(st.sampled_from([None, {}, [], "config"]))
                continue
            parent = at(document, path[:-1])
            if mutation == "remove":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                renamed = draw(misspelt(path[-1]))
                parent[renamed] = parent.pop(path[-1])
            continue
        if not path:
            document = replacement
        else:
            at(document, path[:-1])[path[-1]] = replacement
    return document


# ---------------------------------------------------------------------------------------------
# Stack files as text: what only exists as text
# ---------------------------------------------------------------------------------------------

ODD_SCALARS = [
    "~",
    "null",
    "''",
    '""',
    "yes",
    "off",
    "0x1F",
    "0o17",
    "1_000",
    "12:30",
    "190:20:30",
    "2026-12-04",
    "2026-12-04T10:00:00Z",
    "2026-02-30",
    "2026-12-04 25:00:00",
    "!!bool maybe",
    "!!timestamp soon",
    ".nan",
    "-.inf",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "!!pairs [a: 1, a: 2]",
    "!!str",
    "!!int 7",
    "!!float x",
    "!!python/object/apply:os.system ['true']",
    "!custom x",
    "&anchor value",
    "*nowhere",
    "[a, b",
    "{a: 1",
    "'unterminated",
    "|",
    ">-\n      folded",
    "- item",
    "a: b: c",
    "@reserved",
    "`reserved",
    "%",
    "? complex\n      : key",
    "<<: {a: 1}",
]
"""Scalars as YAML reads them: YAML 1.1 words, bases, sexagesimal numbers, dates, tags, anchors, broken syntax."""

INSERTED = ["\x00", "\t", "\ufeff", "\x1b", "\x7f", "\u2028", "\x85", "\r", "\n", "\\", '"', "'", "#", ":", "é"]
"""Characters inserted as they are: control characters YAML forbids, line breaks, quotes, comments."""

VALUE_LINE = re.compile(r"^(?P<head>\s*(?:- )?[^\s:#'\"][^:#]*: )(?P<value>\S.*)$", re.MULTILINE)


@st.composite
def stack_file_texts(draw: st.DrawFn) -> str | bytes:
    """A stack file's text, shipped or mutated, then changed as text."""
    text = as_yaml(draw(mutated_documents(most=1) | st.sampled_from(STACK_NAMES).map(_shipped)))
    change = draw(st.sampled_from(("scalar", "insert", "truncate", "bytes", "alias")))
    if change == "scalar":
        lines = list(VALUE_LINE.finditer(text))
        if lines:
            line = draw(st.sampled_from(lines))
            text = text[: line.start("value")] + draw(st.sampled_from(ODD_SCALARS)) + text[line.end("value") :]
    elif change == "insert":
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(INSERTED)) + text[position:]
    elif change == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif change == "alias":
        lines = list(VALUE_LINE.finditer(text))
        if len(lines) > 1:
            first, second = sorted(draw(st.lists(st.sampled_from(lines), min_size=2, max_size=2, unique=True)),
                                   key=lambda m: m.start())  # fmt: skip
            text = (
                text[: first.start("value")] + "&shared " + text[first.start("value") : second.start("value")]
                + "*shared" + text[second.end("value") :]
            )  # fmt: skip
    else:
        encoded = text.encode("utf-8")
        position = draw(st.integers(0, len(encoded)))
        return (
            encoded[:position]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80\x80", b"\xfe\xff"]))
            + (encoded[position:])
        )
    return text


def _shipped(name: str) -> Any:
    return copy.deepcopy(shipped_documents()[name])


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
"""Every fuzz test: the same cases on every run (CI), no example database written into the repository."""


def test_the_schema_strategy_makes_only_documents_the_published_schema_accepts():
    # The strategy is built by hand around hypothesis-jsonschema's values: it must agree with the schema it reads.
    validator = jsonschema.Draft202012Validator(published_schema())

    @settings(FUZZ, max_examples=100)
    @given(document=schema_documents())
    def agrees(document: Any) -> None:
        errors = [error.message for error in validator.iter_errors(document)]
        assert not errors, errors

    agrees()


@settings(FUZZ, max_examples=400)
@given(document=schema_documents(), unicode=st.booleans())
def test_a_stack_file_the_published_schema_accepts_is_validated_or_refused_field_by_field(tmp_path, document, unicode):
    validate_file(write_stack_file(tmp_path, as_yaml(document, unicode)))


@settings(FUZZ, max_examples=600)
@given(document=mutated_documents(most=1), unicode=st.booleans())
def test_a_shipped_stack_changed_in_one_place_is_validated_or_refused_field_by_field(tmp_path, document, unicode):
    validate_file(write_stack_file(tmp_path, as_yaml(document, unicode)))


@settings(FUZZ, max_examples=500)
@given(document=mutated_documents(least=2, most=4), unicode=st.booleans())
def test_a_shipped_stack_changed_in_several_places_is_validated_or_refused_field_by_field(tmp_path, document,
                                                                                          unicode):  # fmt: skip
    validate_file(write_stack_file(tmp_path, as_yaml(document, unicode)))


@settings(FUZZ, max_examples=500)
@given(content=stack_file_texts())
def test_a_stack_file_changed_as_text_is_validated_or_refused_field_by_field(tmp_path, content):
    validate_file(write_stack_file(tmp_path, content))


def test_the_oracle_fails_a_refusal_whose_problem_names_no_field():
    from constellab.config_checks import ConfigIssue

    for issues in (
        [ConfigIssue(path="", message="something is wrong")],
        [ConfigIssue(path="customer", message="bad"), ConfigIssue(path="", message="not valid YAML: line 1, x")],
        [ConfigIssue(path="customer", message="'a\nb' is wrong")],
        [ConfigIssue(path="customer", message=" ")],
    ):
        try:
            check_refusal(StackConfigError("test", issues))
        except AssertionError:
            continue
        raise AssertionError(f"accepted as a refusal in the file's terms: {issues}")
