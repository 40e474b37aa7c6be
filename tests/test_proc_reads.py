"""The engine's /proc reads: one helper, few system calls (each hands the GIL over)."""

from __future__ import annotations

import pytest


def test_proc_files_are_read_whole_with_few_system_calls(tmp_path) -> None:
    """/proc reads go through one helper that makes three system calls (open, read, close), not
    open().read()'s six: each hands the GIL over, which a busy parent's pool threads make costly.
    It reads a file bigger than its first read whole, and raises as open() does."""
    import os

    from procviz.engine.guardian_proc import read_file

    me = read_file(f"/proc/{os.getpid()}/stat")
    assert me.startswith(f"{os.getpid()} (".encode())
    big = tmp_path / "big"
    big.write_bytes(bytes(range(256)) * 1000)  # 256 kB: several reads
    assert read_file(str(big)) == big.read_bytes()
    with pytest.raises(FileNotFoundError):
        read_file(str(tmp_path / "missing"))
    opened = os.listdir("/proc/self/fd")
    read_file("/proc/stat")
    assert os.listdir("/proc/self/fd") == opened  # nothing left open
