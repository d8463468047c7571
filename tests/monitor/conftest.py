"""Stores for the monitor tests: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from $TEXTSIFT_TEST_POSTGRES (`benchmarks/postgres.sh start` prints one; CI exports it); each test
gets a database of its own, dropped after it. Without the variable the PostgreSQL cases skip, except in CI, where
they fail: there a missing server is a broken setup, not a choice.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_ENV = "TEXTSIFT_TEST_POSTGRES"


def postgres_server() -> str:
    """The admin URL of the test server; skips the test (fails it in CI) when there is none."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    message = f"${POSTGRES_ENV} is not set; `export {POSTGRES_ENV}=$(benchmarks/postgres.sh start)` runs these"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def fresh_database(server: str) -> Iterator[str]:
    """A new empty database on `server` (whose user may create databases), dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"textsift_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.InsufficientPrivilege:
            pytest.fail(f"${POSTGRES_ENV}: its user may not create databases (ALTER ROLE … CREATEDB)")
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: a killed client's sessions


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty monitor database URL: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        yield from fresh_database(postgres_server())
