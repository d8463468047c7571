from __future__ import annotations

import os
from pathlib import Path

import pytest

from textsift import TextsiftError, files


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = files.write_text(tmp_path / "settings.json", "old")
    with pytest.raises(RuntimeError), files.replacing(target) as f:
        f.write("half of the new")
        raise RuntimeError("the process died here")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        mode = files.write_text(tmp_path / "a.txt", "x").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert mode == 0o644


def test_an_output_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(TextsiftError, match=r"a-file/out.csv: cannot write there .*; pass another --out"):
        files.writable_file(tmp_path / "a-file" / "out.csv")


def test_a_file_hash_follows_a_rewrite(tmp_path: Path) -> None:
    path = files.write_text(tmp_path / "w.bin", "one")
    first = files.sha256(path)
    files.write_text(path, "two")
    assert files.sha256(path) != first
