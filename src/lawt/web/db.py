"""Database connection and tables (SQLAlchemy Core, portable between SQLite and PostgreSQL)."""

from __future__ import annotations

import os

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

DEFAULT_URL = "sqlite:///./lawt.db"
URL_VARIABLE = "LAWT_DATABASE_URL"

metadata = MetaData()

comments = Table(
    "comments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

visitors = Table(
    "visitors", metadata,
    Column("id", String(32), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False, index=True),
)

computations = Table(
    "computations", metadata,
    Column("operation", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)


def database_url(url: str | None = None) -> str:
    """The URL given, else ``$LAWT_DATABASE_URL``, else ``./lawt.db``."""
    return url or os.environ.get(URL_VARIABLE) or DEFAULT_URL


def connect(url: str | None = None) -> Engine:
    """An engine for the URL, with the tables created if missing."""
    resolved = database_url(url)
    options: dict = {"pool_pre_ping": True}
    if resolved.startswith("sqlite"):
        options["connect_args"] = {"check_same_thread": False, "timeout": 15}
    engine = create_engine(resolved, **options)
    if resolved.startswith("sqlite") and ":memory:" not in resolved:
        event.listen(engine, "connect", _write_ahead_log)
    metadata.create_all(engine)
    return engine


def _write_ahead_log(connection, _record) -> None:
    """SQLite in write-ahead-log mode with ``synchronous=NORMAL``: a commit survives the server being killed
    (it is in the log the moment the call returns) without waiting for a disk flush, and readers never
    block the writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
