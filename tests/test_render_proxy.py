"""`ops render-proxy` (`ops/render_proxy.py`): a server's Traefik files, written whole or not at all.

A bad --out is refused before anything is written, and no output is ever left half written.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from ops import render_proxy
from ops.cli import main
from ops.render_proxy import OutputError, RenderedFile, output_directory
from tests.conftest import run_ops


def test_render_proxy_writes_the_files_with_secret_placeholders(tmp_path, capsys):
    assert main(["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--out", str(tmp_path)]) == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["certs/fullchain.pem", "certs/privkey.pem", "dynamic/core.yml", "traefik.yml"]
    assert (tmp_path / "certs/privkey.pem").read_text().startswith("<secret tls-private-key")
    assert (tmp_path / "certs/fullchain.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "certFile: /certs/fullchain.pem" in (tmp_path / "dynamic/core.yml").read_text()
    assert "defaultRuleSyntax: v2" in (tmp_path / "traefik.yml").read_text()


def test_render_proxy_show_secrets_reads_them_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTELLAB_TLS_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    args = ["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--out", str(tmp_path), "--show-secrets"]
    assert main(args) == 0
    key = tmp_path / "certs/privkey.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_render_proxy_refuses_an_unknown_server_in_one_line():
    result = run_ops("render-proxy", "--stack", "local", "--server", "lab9", "--out", "/tmp/never-written")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: stack 'local' has no server 'lab9' (servers: lab)"]


FILES = [
    RenderedFile("traefik.yml", "static\n", secret=False),
    RenderedFile("dynamic/core.yml", "dynamic\n", secret=False),
    RenderedFile("certs/privkey.pem", "-----BEGIN PRIVATE KEY-----\n", secret=True),
]


def everything_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_out_under_a_regular_file_is_refused_before_anything_is_written(tmp_path: Path):
    (tmp_path / "afile").write_text("keep\n")
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'afile'} is a file")):
        render_proxy.write(FILES, tmp_path / "afile" / "sub")
    assert everything_under(tmp_path) == ["afile"]
    with pytest.raises(OutputError, match="is a file"):
        output_directory(str(tmp_path / "afile" / "sub"))


def test_a_file_where_a_directory_goes_stops_the_write_before_any_file_is_written(tmp_path: Path):
    (tmp_path / "dynamic").write_text("in the way\n")
    expected = f"{tmp_path / 'dynamic'} is a file: remove it or choose another --out"
    with pytest.raises(OutputError, match=re.escape(expected)):
        render_proxy.write(FILES, tmp_path)
    assert everything_under(tmp_path) == ["dynamic"]  # traefik.yml, first in the list, was not written


def test_a_directory_where_a_file_goes_is_refused(tmp_path: Path):
    (tmp_path / "traefik.yml").mkdir()
    with pytest.raises(OutputError, match=r"traefik\.yml is a directory"):
        render_proxy.write(FILES, tmp_path)
    assert everything_under(tmp_path) == ["traefik.yml"]


def test_an_empty_out_is_refused_rather_than_read_as_the_current_directory():
    for empty in ("", "  "):
        with pytest.raises(OutputError, match="--out needs a directory"):
            output_directory(empty)


def test_files_are_written_with_their_final_modes_and_replace_earlier_ones(tmp_path: Path):
    (tmp_path / "traefik.yml").write_text("old\n")
    written = render_proxy.write(FILES, tmp_path)
    assert written == [tmp_path / file.relative_path for file in FILES]
    assert everything_under(tmp_path) == [
        "certs", "certs/privkey.pem", "dynamic", "dynamic/core.yml", "traefik.yml"
    ]  # fmt: skip
    assert (tmp_path / "traefik.yml").read_text() == "static\n"
    assert stat.S_IMODE((tmp_path / "traefik.yml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "certs/privkey.pem").stat().st_mode) == 0o600


def test_a_secret_is_never_on_disk_readable_by_others_even_before_its_mode_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The secret's bytes reach the disk (fsync) while its mode is still the one it was created with: that
    mode, not the final chmod, is what keeps it from others until then."""
    seen: list[int] = []
    real_fsync = os.fsync

    def fsync_noting_the_mode(descriptor: int) -> None:
        seen.append(stat.S_IMODE(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync_noting_the_mode)
    render_proxy.write([FILES[2]], tmp_path)

    assert seen and all(mode & 0o077 == 0 for mode in seen), [oct(mode) for mode in seen]
    assert stat.S_IMODE((tmp_path / FILES[2].relative_path).stat().st_mode) == 0o600


def test_a_failure_while_writing_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "out"
    real_fsync = os.fsync
    calls = []

    def disk_full_on_the_second_file(descriptor: int) -> None:
        calls.append(descriptor)
        if len(calls) == 2:  # a full disk often shows only when the data is flushed
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", disk_full_on_the_second_file)
    with pytest.raises(OutputError, match="No space left on device"):
        render_proxy.write(FILES, out)
    assert not out.exists()  # the directories it made are gone too


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git checkout of the project standing in for ROOT: its .gitignore, its stacks."""
    import shutil
    import subprocess

    from ops import common
    from tests.conftest import ROOT, STACKS

    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(ROOT / ".gitignore", root / ".gitignore")
    shutil.copytree(STACKS, root / "stacks")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    monkeypatch.setattr(common, "ROOT", root)
    monkeypatch.setattr(common, "STACKS", root / "stacks")
    monkeypatch.setenv("CONSTELLAB_TLS_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    return root


def test_render_proxy_writes_by_default_where_git_ignores_the_files(repository, capsys):
    import subprocess

    assert main(["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--show-secrets"]) == 0
    key = repository / "rendered" / "pharma-onprem" / "hub" / "certs" / "privkey.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repository, capture_output=True, text=True)
    assert "rendered" not in status.stdout, "git would offer the secrets for a commit"


def test_secrets_written_where_git_would_take_them_need_force(repository, capsys):
    out = repository / "traefik-hub"
    argv = ["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--show-secrets", "--out", str(out)]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: the real secrets would be written inside the repository, and git ")
    assert "or add --force" in err
    assert not out.exists(), "nothing is written"

    assert main([*argv, "--force"]) == 0
    assert (out / "certs" / "privkey.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_placeholders_and_secrets_outside_the_repository_need_no_force(repository, tmp_path, capsys):
    inside = repository / "review"
    assert main(["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--out", str(inside)]) == 0
    outside = tmp_path / "elsewhere"
    argv = ["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--show-secrets", "--out", str(outside)]
    assert main(argv) == 0
    assert (outside / "certs" / "privkey.pem").exists()


def test_force_without_show_secrets_is_refused(capsys):
    assert main(["render-proxy", "--stack", "pharma-onprem", "--server", "hub", "--force"]) == 2
    assert "--force only allows --show-secrets" in capsys.readouterr().err


@pytest.mark.parametrize("given", ["stacks/Pulumi.pharma-onprem.yaml", "../elsewhere/Pulumi.pharma-onprem.yaml"])
def test_a_stack_given_as_its_file_is_rendered_under_its_name(repository, monkeypatch, capsys, given):
    import shutil

    (repository.parent / "elsewhere").mkdir()
    shutil.copy(repository / "stacks" / "Pulumi.pharma-onprem.yaml", repository.parent / "elsewhere")
    monkeypatch.chdir(repository)
    assert main(["render-proxy", "--stack", given, "--server", "hub"]) == 0, capsys.readouterr().err
    written = sorted(path.relative_to(repository) for path in repository.rglob("*") if path.is_file())
    rendered = [path for path in written if path.parts[0] not in ("stacks", ".git", ".gitignore")]
    assert rendered and all(path.parts[:3] == ("rendered", "pharma-onprem", "hub") for path in rendered), rendered
