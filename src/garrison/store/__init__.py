"""History: designs, benchmark runs and verification results in a SQL database (SQLAlchemy 2.0 Core).

SQLite at `$GARRISON_HOME/garrison.db` by default (`~/.garrison` when unset); any SQLAlchemy URL via
`GARRISON_DB_URL` or an explicit `url`. Schema changes are named migrations, each applied in one
transaction together with its row in `migrations`, so a store never half-migrates. API: docs/history.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from garrison.bench.results import BenchResult
from garrison.design import Design
from garrison.errors import InputError

metadata = MetaData()

migrations_table = Table(
    "migrations",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
designs = Table(
    "designs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("name", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("body", Text, nullable=False),  # Design JSON
)
bench_runs = Table(
    "bench_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("url", String(500), nullable=False),
    Column("model", String(200), nullable=False),
    Column("design_id", Integer, ForeignKey("designs.id"), nullable=True),
    Column("schema_version", Integer, nullable=False),
    Column("body", Text, nullable=False),  # BenchResult JSON
)
verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("url", String(500), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("design_id", Integer, ForeignKey("designs.id"), nullable=True),
    Column("body", Text, nullable=False),  # VerifyReport JSON
)


def _m001_initial(conn: Connection) -> None:
    for t in (designs, bench_runs, verifications):
        t.create(conn)


# Append only; never rename or reorder: the name is the migration's identity in `migrations`.
MIGRATIONS: tuple[tuple[str, Callable[[Connection], None]], ...] = (("0001_initial", _m001_initial),)


def default_url() -> str:
    """GARRISON_DB_URL, else SQLite in GARRISON_HOME (default ~/.garrison)."""
    if url := os.environ.get("GARRISON_DB_URL"):
        return url
    home = Path(os.environ.get("GARRISON_HOME") or Path.home() / ".garrison")
    return f"sqlite:///{home / 'garrison.db'}"


def _sqlite_transactional_ddl(engine: Engine) -> None:
    # pysqlite's own transaction handling commits before DDL; take over BEGIN so a migration's
    # CREATE TABLEs and its `migrations` row commit or roll back together (SQLAlchemy docs,
    # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class RunRow:
    """One stored benchmark run (the summary `list_runs` returns)."""

    id: int
    created_at: datetime
    url: str
    model: str
    design_id: int | None


class Store:
    """A history database. `Store()` opens the default one and applies pending migrations."""

    def __init__(
        self,
        url: str | None = None,
        *,
        migrations: tuple[tuple[str, Callable[[Connection], None]], ...] = MIGRATIONS,
    ) -> None:
        self.url = url or default_url()
        if self.url.startswith("sqlite:///"):
            folder = Path(self.url[len("sqlite:///") :]).expanduser().parent
            if url is None and not os.environ.get("GARRISON_DB_URL"):
                folder.mkdir(parents=True, exist_ok=True)  # Garrison's own home, nowhere else
            elif not folder.is_dir():
                raise InputError(
                    "--db",
                    f"the folder {folder} does not exist",
                    "create it first, or give a database URL in an existing folder",
                )
        try:
            self.engine = create_engine(self.url)
        except (SQLAlchemyError, ImportError, ValueError) as e:
            raise InputError("--db", f"cannot open {self.url}: {e}", "give a SQLAlchemy URL") from None
        if self.engine.dialect.name == "sqlite":
            _sqlite_transactional_ddl(self.engine)
        self.migrate(migrations)

    def migrate(
        self, migrations: tuple[tuple[str, Callable[[Connection], None]], ...] = MIGRATIONS
    ) -> list[str]:
        """Apply the named migrations not yet recorded, each in its own transaction; returns their names."""
        migrations_table.create(self.engine, checkfirst=True)
        with self.engine.connect() as conn:
            done = set(conn.scalars(select(migrations_table.c.name)))
        applied = []
        for name, fn in migrations:
            if name in done:
                continue
            with self.engine.begin() as conn:
                fn(conn)
                conn.execute(insert(migrations_table).values(name=name, applied_at=_now()))
            applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(select(migrations_table.c.name).order_by(migrations_table.c.name)))

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def save_design(self, design: Design) -> int:
        """Store a Design; returns its id."""
        with self._tx() as conn:
            r = conn.execute(
                insert(designs).values(
                    created_at=_now(),
                    name=design.name,
                    schema_version=design.schema_version,
                    body=design.model_dump_json(),
                )
            )
            return int(r.inserted_primary_key[0])  # type: ignore[index]

    def get_design(self, design_id: int) -> Design:
        with self.engine.connect() as conn:
            body = conn.scalar(select(designs.c.body).where(designs.c.id == design_id))
        if body is None:
            raise InputError("DESIGN", f"no design {design_id} in {self.url}", "see `garrison history list`")
        return Design.model_validate_json(body)

    def save_bench_run(self, result: BenchResult, design_id: int | None = None) -> int:
        """Store a benchmark result, optionally linked to a stored design; returns its id."""
        with self._tx() as conn:
            r = conn.execute(
                insert(bench_runs).values(
                    created_at=_now(),
                    url=result.url,
                    model=result.model,
                    design_id=design_id,
                    schema_version=result.schema_version,
                    body=result.model_dump_json(),
                )
            )
            return int(r.inserted_primary_key[0])  # type: ignore[index]

    def get_run(self, run_id: int) -> tuple[BenchResult, int | None]:
        """A stored benchmark result and the id of its design (or None)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(bench_runs.c.body, bench_runs.c.design_id).where(bench_runs.c.id == run_id)
            ).first()
        if row is None:
            raise InputError("RUN", f"no bench run {run_id} in {self.url}", "see `garrison history list`")
        return BenchResult.model_validate_json(row[0]), row[1]

    def list_runs(self, model: str | None = None) -> list[RunRow]:
        """Benchmark runs, newest first; `garrison calibrate` reads measurements through this."""
        q = select(
            bench_runs.c.id,
            bench_runs.c.created_at,
            bench_runs.c.url,
            bench_runs.c.model,
            bench_runs.c.design_id,
        ).order_by(bench_runs.c.id.desc())
        if model:
            q = q.where(bench_runs.c.model == model)
        with self.engine.connect() as conn:
            return [RunRow(*row) for row in conn.execute(q)]

    def save_verification(self, report: dict[str, Any], url: str, design_id: int | None = None) -> int:
        """Store a `garrison verify` report (its `--json` object); returns its id."""
        with self._tx() as conn:
            r = conn.execute(
                insert(verifications).values(
                    created_at=_now(),
                    url=url,
                    ok=bool(report.get("ok")),
                    design_id=design_id,
                    body=json.dumps(report, sort_keys=True),
                )
            )
            return int(r.inserted_primary_key[0])  # type: ignore[index]

    def get_verification(self, vid: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            body = conn.scalar(select(verifications.c.body).where(verifications.c.id == vid))
        if body is None:
            raise InputError("ID", f"no verification {vid} in {self.url}", "see `garrison history list`")
        out: dict[str, Any] = json.loads(body)
        return out

    def list_all(self) -> list[dict[str, Any]]:
        """Every stored item as {kind, id, created_at, summary}, newest first."""
        items: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for i, ts, name in conn.execute(select(designs.c.id, designs.c.created_at, designs.c.name)):
                items.append({"kind": "design", "id": f"design-{i}", "created_at": ts, "summary": name})
            for i, ts, url, model, did in conn.execute(
                select(
                    bench_runs.c.id,
                    bench_runs.c.created_at,
                    bench_runs.c.url,
                    bench_runs.c.model,
                    bench_runs.c.design_id,
                )
            ):
                link = f" (design-{did})" if did else ""
                items.append(
                    {"kind": "run", "id": f"run-{i}", "created_at": ts, "summary": f"{model} @ {url}{link}"}
                )
            for i, ts, url, ok in conn.execute(
                select(
                    verifications.c.id, verifications.c.created_at, verifications.c.url, verifications.c.ok
                )
            ):
                items.append(
                    {
                        "kind": "verify",
                        "id": f"verify-{i}",
                        "created_at": ts,
                        "summary": f"{'PASS' if ok else 'FAIL'} {url}",
                    }
                )
        items.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
        return items


def _now() -> datetime:
    return datetime.now(timezone.utc)


def parse_id(text: str, default_kind: str) -> tuple[str, int]:
    """`run-3`, `design-2`, `verify-1`, or a bare number of `default_kind`."""
    kind, _, num = text.rpartition("-")
    kind = kind or default_kind
    if kind not in ("run", "design", "verify") or not num.isdigit():
        raise InputError(
            "ID", f"{text!r} is not an id", "use run-N, design-N or verify-N (see `garrison history list`)"
        )
    return kind, int(num)
