"""`garrison keys` under concurrency: every add survives and every revoke stays revoked.

Each race starts four changes to one map file at the same instant (a barrier): two adds of new ids
and two revokes of ids added just before. Afterwards every added key must be in the map with the
digest of the key that was printed (none lost) and every revoked id must be absent (none revived).
Threads and processes both take part; 200 races each.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from garrison.keys import StoredKey, add_key, read_keys, revoke_key, stored_form

RACES = 200
_barrier: Any = None  # set in each worker process by _init


def _op(path: str, kind: str, key_id: str) -> tuple[str, str, str]:
    _barrier.wait(timeout=60)
    if kind == "add":
        return kind, key_id, add_key(Path(path), key_id)
    revoke_key(Path(path), key_id)
    return kind, key_id, ""


def _init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _check(path: Path, added: dict[str, str], revoked: set[str]) -> tuple[int, int]:
    """(lost, revived) against what the calls reported."""
    keys: dict[str, StoredKey] = read_keys(path)
    lost = sum(1 for kid, key in added.items() if keys.get(kid) != stored_form(key))
    revived = sum(1 for kid in revoked if kid in keys)
    return lost, revived


def _run_races(path: Path, submit: Callable[[str, str], Any], collect: Callable[[Any], Any]) -> None:
    added: dict[str, str] = {}
    revoked: set[str] = set()
    for i in range(RACES):
        for kid in (f"c-{i}", f"d-{i}"):  # the ids this race revokes exist beforehand
            added[kid] = add_key(path, kid)
        jobs = [
            submit("add", f"a-{i}"),
            submit("add", f"b-{i}"),
            submit("revoke", f"c-{i}"),
            submit("revoke", f"d-{i}"),
        ]
        for kind, kid, key in map(collect, jobs):
            if kind == "add":
                added[kid] = key
            else:
                del added[kid]
                revoked.add(kid)
    assert _check(path, added, revoked) == (0, 0)
    assert len(read_keys(path)) == 2 * RACES


def test_threads_lose_no_key_and_revive_none(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.map"
    barrier = threading.Barrier(4)
    _init(barrier)
    with ThreadPoolExecutor(4) as pool:
        _run_races(path, lambda kind, kid: pool.submit(_op, str(path), kind, kid), lambda f: f.result(60))


def test_processes_lose_no_key_and_revive_none(tmp_path: Path) -> None:
    path = tmp_path / "api_keys.map"
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    with ctx.Pool(4, initializer=_init, initargs=(barrier,)) as pool:
        _run_races(
            path,
            lambda kind, kid: pool.apply_async(_op, (str(path), kind, kid)),
            lambda r: r.get(60),
        )


@pytest.mark.slow
def test_parallel_cli_adds_all_land(tmp_path: Path) -> None:
    """20 `garrison keys --name` processes at once: 20 keys printed, 20 in the map, all matching."""
    path = tmp_path / "api_keys.map"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "garrison", "keys", "--name", f"app-{i}", "--file", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    printed = {}
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        printed[f"app-{i}"] = out.strip()
    assert read_keys(path) == {kid: stored_form(key) for kid, key in printed.items()}
