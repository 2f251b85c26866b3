"""What the site remembers: comments, visitors (anonymous ids) and how often each operation was computed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from lawt.web.db import comments, computations, visitors

ONLINE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Comment:
    id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Usage:
    online_now: int
    total_visitors: int
    computations: int
    most_used_operation: str | None
    most_used_count: int


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Store:
    """Queries on the site's tables; every write is committed before the method returns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def add_comment(self, body: str) -> Comment:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(comments).values(text=body, created_at=now)).inserted_primary_key[0]
        return Comment(id=new_id, text=body, created_at=now)

    def recent_comments(self, limit: int) -> list[Comment]:
        query = select(comments).order_by(comments.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Comment(id=r.id, text=r.text, created_at=utc(r.created_at)) for r in conn.execute(query)]

    def touch_visitor(self, visitor: str) -> None:
        now = datetime.now(UTC)
        self._update_or_insert(visitors, visitors.c.id == visitor, {"last_seen": now},
                               {"id": visitor, "first_seen": now, "last_seen": now})

    def count_computation(self, operation: str) -> None:
        self._update_or_insert(computations, computations.c.operation == operation,
                               {"count": computations.c.count + 1}, {"operation": operation, "count": 1})

    def usage(self) -> Usage:
        since = datetime.now(UTC) - ONLINE_WINDOW
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(visitors)).scalar_one()
            online = conn.execute(select(func.count()).where(visitors.c.last_seen >= since)).scalar_one()
            done = conn.execute(select(func.coalesce(func.sum(computations.c.count), 0))).scalar_one()
            top = conn.execute(select(computations.c.operation, computations.c.count)
                               .order_by(computations.c.count.desc(), computations.c.operation).limit(1)).first()
        return Usage(online_now=online, total_visitors=total, computations=int(done),
                     most_used_operation=top.operation if top else None, most_used_count=top.count if top else 0)

    def _update_or_insert(self, table: Table, where, changes: dict, row: dict) -> None:
        """Update the matching row, or insert it; a concurrent insert of the same key falls back to the update."""
        with self.engine.begin() as conn:
            if conn.execute(update(table).where(where).values(changes)).rowcount:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values(row))
        except IntegrityError:
            with self.engine.begin() as conn:
                conn.execute(update(table).where(where).values(changes))
