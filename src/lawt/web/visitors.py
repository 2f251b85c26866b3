"""Anonymous visitors: a random id in an HttpOnly cookie, recorded (throttled) as last seen. No IP is kept."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict

from fastapi import Request, Response

from lawt.web.store import Store

COOKIE = "lawt_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600
_VALID = re.compile(r"^[0-9a-f]{32}$")


class VisitorTracker:
    """Marks visitors as seen in the database at most once per ``interval`` seconds each."""

    def __init__(self, store: Store, interval: float = 60.0, max_recent: int = 10_000) -> None:
        self.store, self.interval, self.max_recent = store, interval, max_recent
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, visitor: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._recent.get(visitor)
            if last is not None and now - last < self.interval:
                return
            self._recent[visitor] = now
            self._recent.move_to_end(visitor)
            while len(self._recent) > self.max_recent:
                self._recent.popitem(last=False)
        self.store.touch_visitor(visitor)


def visitor_id(request: Request, response: Response) -> str:
    """Dependency: the visitor's id from the cookie, or a new one set in the response."""
    visitor = request.cookies.get(COOKIE, "")
    if not _VALID.match(visitor):
        visitor = secrets.token_hex(16)
        response.set_cookie(COOKIE, visitor, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    request.app.state.services.visitors.seen(visitor)
    return visitor
