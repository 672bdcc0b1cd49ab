"""Speed of the offline preview, printed as ratios (goals from the pull-request preview issue).

1. One stack against a process that only imports pulumi and the provider packages that stack uses
   (goal: at most 1.5).
2. `--all` over 50 generated customer stacks against one of those stacks (goal: at most 5).
3. The cost of one resource: a stack's run and document timed in a process that has imported
   everything already, divided by its resources.

`python -m ops` raises the garbage collector's thresholds before importing anything, which also makes
its imports faster than a plain process's. So the bench times the import-only process twice: as the
goal defines it (default collector: the ratio checked against the goal), and with the collector tuned
as `ops` tunes it (like for like: the ratio and per-resource cost of the preview's own work).

Run: .venv/bin/python bench/preview_speed.py [--repeat 3] [--customers 50]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(command: list[str], cwd: Path, repeat: int) -> tuple[float, str]:
    samples = []
    output = ""
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"}
        )
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
        output = result.stdout
    return min(samples), output  # the least disturbed run


# The thresholds ops/__main__.py sets, for the like-for-like baseline.
TUNED_COLLECTOR = "import gc; gc.set_threshold(200_000, 50, 100)"


def imports_of(document: dict) -> str:
    """Python code importing exactly the provider modules whose resources the stack declares.

    The provider packages load their modules lazily, so `import pulumi_aws` alone would not be the
    cost of using it: the baseline imports each resource class the stack registers.
    """
    lines = ["import pulumi"]
    for token in sorted({r["type"] for r in document["resources"] if r["custom"]}):
        package, module, kind = token.split(":")
        if package == "pulumi":  # pulumi:providers:<name>
            lines.append(f"from pulumi_{kind} import Provider")
            continue
        if package == "pulumi-python":  # a dynamic resource: its provider is the program's own code
            lines.append("import pulumi.dynamic")
            continue
        path = module.split("/")[0]
        where = f"pulumi_{package}" if path == "index" else f"pulumi_{package}.{path}"
        lines.append(f"from {where} import {kind}")
    return "; ".join(lines)


# Times one stack's run and document in a process that has already imported everything (and run the
# stack once): the cost the resources themselves add, free of the imports' noise.
RUN_ONLY = """
import gc, sys, time
gc.set_threshold(200_000, 50, 100)
from pathlib import Path
from offline.documents import _document_for
path = str(Path("stacks") / f"Pulumi.{sys.argv[1]}.yaml")
_document_for(path)
gc.collect(); gc.freeze()
samples = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); _document_for(path); samples.append(time.perf_counter() - start)
    gc.collect()
print(min(samples))
"""


def run_only(stack: str, cwd: Path, repeat: int) -> float:
    """Seconds one stack's run and document take once everything is imported (least disturbed run)."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_ONLY, stack, str(repeat)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )
    if result.returncode != 0:
        raise SystemExit(f"timing {stack} failed:\n{result.stderr}")
    return float(result.stdout.strip())


def customer(index: int) -> dict:
    """A generated customer: cloud, hybrid or on-prem, one hub and one to three labs."""
    with (ROOT / "stacks" / "Pulumi.biolab-hybrid.yaml").open() as handle:
        document = yaml.safe_load(handle)
    platform = document["config"]["constellab:platform"]
    name = f"cust{index:02d}"
    platform["customer"] = name
    platform["baseDomain"] = f"{name}.constellab.app"
    shape = index % 3
    hub_placement = (
        {"kind": "cloud", "instanceType": "m6i.large", "dataDiskGb": 200}
        if shape == 0
        else {"kind": "onPrem", "sshHost": f"hub.{name}.internal", "publicAddress": f"198.51.100.{index + 1}"}
    )
    platform["hubs"] = [{"name": "hub", "placement": hub_placement}]
    labs = []
    for lab in range(1 + index % 3):
        placement = (
            {"kind": "onPrem", "sshHost": f"lab{lab}.{name}.internal", "publicAddress": f"198.51.100.{100 + index}"}
            if shape == 2
            else {"kind": "cloud", "instanceType": "t3.large", "dataDiskGb": 100}
        )
        labs.append({"name": f"lab{lab}", "hub": "hub", "placement": placement})
    platform["labs"] = labs
    # The Space configures them all: each hub and lab has the key it generated (placeholders here).
    secure = {"secure": "v1:c2VjcmV0LW5vbmNl:cGxhY2Vob2xkZXI="}
    document["config"]["constellab:labManagerApiKeys"] = {
        server["name"]: secure for server in [*platform["hubs"], *labs]
    }
    if shape == 2:
        platform["dns"] = {"provider": "none"}
        document["config"].pop("constellab:cloudflareApiToken", None)
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--customers", type=int, default=50)
    args = parser.parse_args()
    python = sys.executable

    print("1. one stack against importing its provider packages")
    for stack in ("acme-cloud", "biolab-hybrid", "local"):
        one, output = timed([python, "-m", "ops", "preview", "--stack", stack, "--format", "json"], ROOT, args.repeat)
        document = json.loads(output)["stacks"][0]
        baseline, _ = timed([python, "-c", imports_of(document)], ROOT, args.repeat)
        tuned, _ = timed([python, "-c", f"{TUNED_COLLECTOR}; {imports_of(document)}"], ROOT, args.repeat)
        resources = document["summary"]["resources"]
        per_resource = run_only(stack, ROOT, args.repeat) / resources * 1000
        print(f"   {stack}: preview {one:.2f} s, imports {baseline:.2f} s -> ratio {one / baseline:.2f} (goal <= 1.5)")
        print(f"      like for like: imports {tuned:.2f} s with the collector tuned -> ratio {one / tuned:.2f}")
        print(f"      {resources} resources, {per_resource:.1f} ms per resource (run and document, imports done)")

    print(f"2. --all over {args.customers} generated customer stacks against one of them")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "repo"
        shutil.copytree(
            ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".mypy_cache", "runs")
        )
        for old in (copy / "stacks").glob("Pulumi.*.yaml"):
            old.unlink()
        for index in range(args.customers):
            (copy / "stacks" / f"Pulumi.cust{index:02d}.yaml").write_text(
                yaml.safe_dump(customer(index), sort_keys=False)
            )
        one, output = timed(
            [python, "-m", "ops", "preview", "--stack", "cust01", "--format", "json"], copy, args.repeat
        )
        every, output = timed([python, "-m", "ops", "preview", "--all", "--format", "json"], copy, args.repeat)
        resources = sum(s["summary"]["resources"] for s in json.loads(output)["stacks"])
        ratio = every / one
        print(f"   one stack {one:.2f} s, all {args.customers} stacks {every:.2f} s -> ratio {ratio:.2f} (goal <= 5)")
        print(f"      {resources} resources, {every / resources * 1000:.1f} ms per resource overall")


if __name__ == "__main__":
    main()
