"""A first sync's searches answered from one listing of the app's users.

A first sync (or ``--repair``) looks for every user of the export in the app before it
creates one: one search per user. Where the app can list its users, the run reads them
once, page by page, before its first change, and answers each user's first search from
that listing: a new user then costs one request (the create), not two.

The listing is used only when it can be trusted: read whole, with the same count on every
page and no user on two pages (users the app gained or lost meanwhile could be missed, and
a user missed must never be created twice); otherwise every search goes to the app, as
without it. A second search for one value (a create whose outcome is in doubt, searched
again before it is sent again) always goes to the app: the listing says what the app held
before the run, not since.
"""

from __future__ import annotations

import threading
from typing import Any

from mapper.core.schema import Resource
from mapper.sync.app import AppError, Listing, Users, fold, match_values
from mapper.sync.retry import AppUnavailable

#: Users a page of the listing asks for.
PAGE_SIZE = 500


def listed(app: Users, match: str) -> Users:
    """APP, its first search for each value of the --match attribute MATCH answered from one
    listing of its users; APP itself where it cannot list them (or answers oddly), or the listing
    changed while it was read. An app that stops answering meanwhile (a 5xx, the breaker) is
    AppUnavailable: the run stops, as anywhere else."""
    lister = getattr(app, "list_users", None)
    if lister is None:
        return app
    try:
        listing = lister(page_size=PAGE_SIZE)
    except AppError as exc:
        if app.breaker.reason is not None or (exc.status or 0) >= 500:
            raise AppUnavailable(f"the app's users could not be listed: {exc}") from None
        return app  # searched user by user, as without the listing
    if listing.changed:  # pages smaller than asked for are read on from, as RFC 7644 allows
        return app
    return ListedUsers(app, listing, match)


class ListedUsers:
    """The app's /Users (APP), whose first search for each value of the --match attribute MATCH
    is answered from LISTING; everything else goes to APP."""

    def __init__(self, app: Users, listing: Listing, match: str) -> None:
        self.app = app
        self.counters = app.counters
        self.breaker = app.breaker
        self.match = match
        self._index: dict[str, list[Resource]] = {}
        for user in listing.users:
            for value in match_values(user, match):
                self._index.setdefault(self._key(value), []).append(user)
        self._asked: set[str] = set()
        self._lock = threading.Lock()  # the run's workers search at once
        self.answered = 0  # searches the listing answered (for the tests and the report)

    def _key(self, value: str) -> str:
        return fold(value, self.match)

    def find(self, match: str, value: str) -> list[Resource]:
        """The app users whose MATCH attribute equals VALUE: from the listing the first time a
        value is asked for, from the app afterwards."""
        key = self._key(value)
        with self._lock:
            first = match == self.match and key not in self._asked
            self._asked.add(key)
            if first:
                self.answered += 1
        if first:
            return [dict(user) for user in self._index.get(key, ())]
        return self.app.find(match, value)

    def preflight(self) -> None:
        """The app's pre-flight (run before the listing)."""
        self.app.preflight()

    def get(self, app_id: str) -> Resource:
        """GET the app user APP_ID."""
        return self.app.get(app_id)

    def create(self, body: Resource) -> Resource:
        """POST the app user BODY."""
        return self.app.create(body)

    def patch(self, app_id: str, message: Resource) -> None:
        """PATCH the app user APP_ID."""
        self.app.patch(app_id, message)

    def put(self, app_id: str, body: Resource) -> None:
        """PUT the app user APP_ID."""
        self.app.put(app_id, body)

    def delete(self, app_id: str) -> None:
        """DELETE the app user APP_ID."""
        self.app.delete(app_id)

    def __getattr__(self, name: str) -> Any:  # anything else the engine asks of the app
        return getattr(self.app, name)
