"""Reading JSON documents that people and other programs hand to mapper.

One reader for every command, so each refuses the same things with the same
words: text that is not UTF-8, an empty document, a key given twice in one
object (which value would count?), ``NaN`` and ``Infinity`` (not JSON),
integers too long for Python to convert, nesting deeper than a limit, and a lone
surrogate (``"\ud800"``: valid JSON, but not Unicode text, so no file, request or
database could hold it; one such record fails alone instead of every write after it).
"""

from __future__ import annotations

import json
import re
from typing import IO, Any, NoReturn

import orjson

from mapper.errors import ExitCode, MapperError

#: Nesting deeper than this is refused; profiles and SCIM resources are a few levels deep.
MAX_DEPTH = 100
#: The largest record read: one JSON Lines line or one JSON file. An Okta user is a few KB
#: (a profile value is at most 10,000 characters); a longer record fails alone, unread.
MAX_RECORD_BYTES = 16 << 20


def too_large(size: int) -> str:
    """The reason given for a record of SIZE bytes that is not read."""
    limit = MAX_RECORD_BYTES
    shown = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit:,} bytes"
    return f"the record is {size:,} bytes, longer than the maximum of {shown}; not read"


class JsonInputError(MapperError, ValueError):
    """A document that cannot be read; the message starts with where (``file:line:col``),
    ``reason`` is the rest."""

    exit_code = ExitCode.FAILED  # bad data

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason

    def __reduce__(self) -> tuple[type[JsonInputError], tuple[str, str]]:
        # Pickled back from a worker process whole (the default passes the message alone).
        return type(self), (self.where, self.reason)


def read_record(stream: IO[bytes]) -> tuple[bytes, int]:
    """A whole JSON document from STREAM and its size; a document longer than
    MAX_RECORD_BYTES is read to its end but not kept (then the bytes are empty)."""
    data = stream.read(MAX_RECORD_BYTES + 1)
    if len(data) <= MAX_RECORD_BYTES:
        return data, len(data)
    size = len(data)
    while chunk := stream.read(1 << 20):
        size += len(chunk)
    return b"", size


class RecordTooLarge(JsonInputError):
    """A record longer than MAX_RECORD_BYTES: not read at all."""


def parse(
    data: bytes,
    label: str,
    max_depth: int = MAX_DEPTH,
    first_line: int = 1,
    any_size: bool = False,
) -> Any:
    """The JSON document in DATA, read from LABEL (a file name, or ``<stdin>``), whose first
    line is line FIRST_LINE of that file (a JSON Lines record); at most MAX_RECORD_BYTES long
    unless ANY_SIZE (a whole document the user wrote, such as a saved plan)."""
    if not any_size and len(data) > MAX_RECORD_BYTES:
        raise RecordTooLarge(label, too_large(len(data)))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JsonInputError(label, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise JsonInputError(label, "empty input, expected a JSON object")
    try:
        document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        where = f"{label}:{exc.lineno + first_line - 1}:{exc.colno}"
        raise JsonInputError(where, f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise JsonInputError(label, f"invalid JSON: nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # duplicate keys, NaN, integers of thousands of digits
        raise JsonInputError(label, f"invalid JSON: {_short(str(exc))}") from None
    if _depth_exceeds(document, max_depth):
        raise JsonInputError(label, f"invalid JSON: nested more than {max_depth} levels deep")
    if _SURROGATE_ESCAPE.search(data) and _has_lone_surrogate(document):
        raise JsonInputError(
            label, "invalid JSON: a string holds a lone surrogate (such as \\ud800), not Unicode text"
        )
    return document


#: The only way a surrogate gets into a document: UTF-8 cannot encode one, an escape can.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(document: Any) -> bool:
    """Whether a key or string of DOCUMENT holds a lone surrogate (json.loads joins pairs)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


#: JSON's whitespace, deleted before counting the ends of keys.
_WHITESPACE = b" \t\r\n"
#: Deleted from both texts before comparing them: whitespace, and the brackets that open a
#: container, so that the length deleted from orjson's text bounds how deep it nests.
_WHITESPACE_AND_OPENERS = _WHITESPACE + b"{["


def parse_fast(data: bytes, label: str, first_line: int = 1) -> Any:
    """As :func:`parse`, four times faster on the records a gateway sees (orjson), with the
    same guarantees: a document orjson reads differently or refuses goes to the strict reader.

    orjson takes the last of two equal keys; the strict reader refuses them; it reads an
    integer beyond 64 bits as a float, which the strict reader keeps exact.

    The common case is settled by writing the document back. When orjson's text for it is
    the record's text, or is once JSON's whitespace and the opening brackets ``{`` and ``[``
    are deleted from both, the two hold the same tokens in the same order but for those
    brackets (deleting them never makes or unmakes a string: a backslash is never followed
    by whitespace or a bracket, and no quote is deleted). Then every key (a string followed
    by ``:``) in the record is one orjson wrote (no key twice) and every number is written
    as it was read (no integer became a float). orjson's text has a bracket for each
    container, so when it holds at most MAX_DEPTH brackets the document nests no deeper;
    after the deletion, the bytes it lost (its brackets, and whitespace inside its strings)
    bound that count for free, and are counted only when they are more.

    Otherwise (escapes orjson writes another way, ``1E2``, a deep document): with whitespace
    deleted, every key in the text ends in ``":``, and ``":`` elsewhere (inside a string)
    only adds to the count: when the count equals the keys orjson kept, no key was given
    twice; a float of 2**63 or more, perhaps an integer orjson could not keep, goes to the
    strict reader.
    """
    if len(data) > MAX_RECORD_BYTES:
        return parse(data, label, first_line=first_line)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return parse(data, label, first_line=first_line)  # it says what is wrong, as always
    try:
        again = orjson.dumps(document)
    except TypeError:  # a lone surrogate, or nesting past orjson's own limit: the strict reader
        return parse(data, label, first_line=first_line)
    if again == data:  # orjson's own text (a compact export): only the depth is left
        if again.count(b"{") + again.count(b"[") <= MAX_DEPTH:
            return document
    else:
        kept = again.translate(None, _WHITESPACE_AND_OPENERS)
        if kept == data.translate(None, _WHITESPACE_AND_OPENERS) and (
            len(again) - len(kept) <= MAX_DEPTH or again.count(b"{") + again.count(b"[") <= MAX_DEPTH
        ):
            return document
    keys = _keys_if_plain(document, MAX_DEPTH)
    if keys is None or data.translate(None, _WHITESPACE).count(b'":') != keys:
        return parse(data, label, first_line=first_line)
    return document


def _keys_if_plain(document: Any, limit: int) -> int | None:
    """How many object keys DOCUMENT holds; None when it nests deeper than LIMIT or holds a
    float of 2**63 or more (perhaps an integer orjson could not keep)."""
    if document.__class__ is float and abs(document) >= 9.2e18:
        return None  # a bare number, perhaps an integer orjson could not keep
    keys = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if value.__class__ is dict:
            keys += len(value)
            children: Any = value.values()
        elif value.__class__ is list:
            children = value
        else:
            continue  # a scalar document
        if depth >= limit:
            return None
        for child in children:
            kind = child.__class__
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and abs(child) >= 9.2e18:
                return None
    return keys


def _short(message: str) -> str:
    # Python's message for a 5,000-digit integer names sys.set_int_max_str_digits: not ours to offer.
    if message.startswith("Exceeds the limit"):
        return "an integer with more than 4,300 digits"
    return message


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the key {ascii(key)[:60]} appears twice in one object")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether DOCUMENT nests deeper than LIMIT, found without recursion."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
