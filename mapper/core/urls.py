"""App base URLs, checked before any request and shown in messages without credentials
(needs no HTTP client: the command line checks --to and --schemas before loading one)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit


def shown_url(url: str) -> str:
    """URL as messages show it: a user name and password (never meant to be there) hidden,
    quoted, and at most 200 characters."""
    return repr(re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1***@", url)[:200])


def base_url_problem(url: str) -> str | None:
    """Why URL cannot be an app's base URL (None when it can): http or https with a host,
    a numeric port, no user name or password, query or fragment, no space or control
    character, at most 2,000 characters."""
    if len(url) > 2000:
        return f"a URL of {len(url):,} characters (at most 2,000)"
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return "the URL holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.username is not None or parts.password is not None:
        return (
            "the URL holds a user name or password; give the base URL alone and the token in the "
            "variable --token-env names (a URL is printed and kept in the state file)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return "not an http or https base URL with a host (and no ?query)"
    return None


def clear_text_to_another_host(url: str) -> bool:
    """Whether URL is plain http to a host other than this machine (127.0.0.0/8, ::1,
    localhost): a bearer token sent there crosses the network in clear text."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme != "http":
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: it may resolve anywhere
