"""Atomic result files: complete or absent, never partial; ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from spikealign.io import atomic_write, atomic_write_json, atomic_write_text


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_written_files_get_the_mode_of_a_plain_open(tmp_path, mask):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with open(tmp_path / "plain.txt", "w") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    assert mode == 0o666 & ~mask == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1})

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom, "wb")
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
