"""Where the grammar and the built-in rulesets live, how ruleset files are read, and
where the file an `extends` names is found.

The top-level ``grammar/`` and ``rulesets/`` folders are the sources of truth.
The wheel carries copies under ``mapper/_data/``; a source checkout or an
editable install reads the top-level folders directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mapper.errors import Diagnostic, RulesetError, Severity

RULESET_SUFFIX = ".mapper"
#: Larger files are refused before parsing (a ruleset is a page, not a data set).
MAX_FILE_BYTES = 1_000_000

_PACKAGE = Path(__file__).resolve().parent.parent  # mapper/, where a wheel keeps _data/


@cache
def _data_dir(kind: str) -> Path:
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mapper is installed without its {kind}/ folder")


def grammar_path() -> Path:
    """The grammar file, mapper.lark."""
    return _data_dir("grammar") / "mapper.lark"


def grammar_text() -> str:
    """The grammar's text."""
    return grammar_path().read_text(encoding="utf-8")


def parser_table_path() -> Path:
    """The parse table generated from the grammar (see :mod:`mapper.language.parser_table`)."""
    return _data_dir("grammar") / "mapper.lark.json"


def builtin_path(name: str) -> Path | None:
    """The file of the built-in ruleset NAME, or None when there is none."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _data_dir("rulesets") / f"{name}{RULESET_SUFFIX}"
    return path if path.is_file() else None


def builtin_names() -> list[str]:
    """The names of the built-in rulesets, sorted."""
    return sorted(p.stem for p in _data_dir("rulesets").glob(f"*{RULESET_SUFFIX}"))


#: Folders a search for rulesets never enters: tools' and packages' own (a virtual environment
#: holds mapper's built-in rulesets, which are not the project's).
_NOT_SEARCHED = frozenset({"site-packages", "node_modules", "__pycache__"})


def files_in(folder: Path, suffix: str) -> list[Path]:
    """The files named *SUFFIX in FOLDER and its subfolders, sorted; hidden folders (.git,
    .venv) and package folders (site-packages, node_modules) are not searched."""
    return sorted(
        p
        for p in folder.rglob(f"*{suffix}")
        if p.is_file()
        and not any(
            part.startswith(".") or part in _NOT_SEARCHED for part in p.relative_to(folder).parts[:-1]
        )
    )


def rulesets_in(folder: Path) -> list[Path]:
    """The ruleset files in FOLDER and its subfolders, sorted (as :func:`files_in` searches)."""
    return files_in(folder, RULESET_SUFFIX)


def read_ruleset_file(path: Path) -> str:
    """The text of a ruleset file, or a RulesetError that says why it cannot be read."""
    where = str(path)
    try:
        if path.is_dir():
            raise unreadable(where, "is a directory")
        data = path.read_bytes()
    except FileNotFoundError:
        raise unreadable(where, "no such file") from None
    except OSError as exc:
        raise unreadable(where, exc.strerror or "cannot be read") from None
    if len(data) > MAX_FILE_BYTES:
        raise unreadable(where, f"is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unreadable(where, f"is not UTF-8 text (byte {exc.start})") from None


def unreadable(where: str, why: str) -> RulesetError:
    """The RulesetError for the file WHERE that cannot be read, WHY saying why."""
    return RulesetError([Diagnostic(Severity.ERROR, f"{where}: {why}", None)])


def find_parent(name: str, base_dir: Path | None, current: str | None) -> Path | None:
    """The file ``extends NAME`` means in a ruleset in BASE_DIR whose own file is CURRENT
    (resolved): NAME.mapper next to it, else the built-in one. A file that extends its
    namesake (rulesets/okta-default.mapper extending okta-default) means the built-in one."""
    candidates = []
    if base_dir is not None:
        candidates.append(base_dir / f"{name}{RULESET_SUFFIX}")
    builtin = builtin_path(name)
    if builtin is not None:
        candidates.append(builtin)
    return next((c for c in candidates if c.is_file() and identity(str(c)) != current), None)


def identity(path: str) -> str:
    """PATH resolved, to recognise one file under two names."""
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


@dataclass(frozen=True, slots=True)
class Dependency:
    """A file an `extends` found while loading: what the compile cache re-checks."""

    name: str  # as the `extends` wrote it
    base_dir: Path | None
    current: str | None  # the extending file, resolved
    found: Path
    text: str  # the found file's content when it was loaded
