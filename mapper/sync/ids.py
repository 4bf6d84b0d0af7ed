"""App user ids: checked when the app gives one, and quoted by one function for every request.

RFC 7643 section 3.1 lets an app choose any string as a resource's ``id``; mapper puts it in
a URL path (``/Users/{id}``) for GET, PATCH, PUT and DELETE. An id must therefore become one
path segment and nothing else: every character that would end the segment or the path
(``/``, ``?``, ``#``, ``%``...) is percent-encoded, and an id that no URL can carry as one
segment is refused when it is received, before it is stored or sent anywhere:

* the empty string, ``.`` and ``..`` (URL resolution removes dot segments: the request
  would reach another resource);
* control characters (tab, CR, LF...: a URL cannot carry them, and a terminal would act on them);
* lone surrogates (not text: they cannot be encoded in a URL);
* more than :data:`MAX_ID_LENGTH` characters (no server's URL holds it).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from mapper.core.helpers import describe

#: The longest id mapper accepts from an app (UUIDs are 36; a URL of 8 KB is the common limit).
MAX_ID_LENGTH = 1024

_UNUSABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def id_problem(app_id: object) -> str | None:
    """Why APP_ID cannot be an app user's id in a URL path, or None when it can."""
    if not isinstance(app_id, str):
        return f"the id is {describe(app_id)}, not a string"
    if app_id in ("", ".", ".."):
        return f"the id {app_id!r} cannot be a URL path segment"
    if len(app_id) > MAX_ID_LENGTH:
        return f"the id is {len(app_id)} characters long (at most {MAX_ID_LENGTH})"
    if _UNUSABLE.search(app_id):
        return "the id holds a control character or a lone surrogate"
    return None


def user_path(app_id: str) -> str:
    """The path of app user APP_ID under the base URL, the id as one percent-encoded segment.

    Every request about one user builds its URL here, so no method can send another's."""
    problem = id_problem(app_id)
    if problem:  # ids are checked when received: reaching this is a bug, not an app's fault
        raise ValueError(problem)
    return "/Users/" + quote(app_id, safe="")
