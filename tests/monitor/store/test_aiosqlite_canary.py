"""A canary: the installed aiosqlite still has the private members the store relies on.

`Store.atomic` runs a whole transaction in one trip to aiosqlite's thread through the method
every public aiosqlite call uses (`Connection._execute`) on its sqlite3 connection (`_conn`);
a failed open waits for that thread (`_thread`) so none outlives the event loop. An aiosqlite
release that renames any of them fails here, by name, rather than in a symptom command.
"""

from __future__ import annotations

import inspect
import sqlite3
import threading
from pathlib import Path

import aiosqlite


async def test_the_private_members_atomic_uses_are_there(tmp_path: Path) -> None:
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    async with aiosqlite.connect(tmp_path / "canary.db") as db:
        assert isinstance(db._conn, sqlite3.Connection)
        assert await db._execute(lambda: 42) == 42  # type: ignore[no-untyped-call]
        assert isinstance(db._thread, threading.Thread)
