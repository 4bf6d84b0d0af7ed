"""A Pygments lexer for mapper rulesets, registered as the ``mapper`` lexer
through the ``pygments.lexers`` entry point (``pygmentize -l mapper``; files
ending in ``.mapper``). Pygments is needed only to use it."""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

from mapper.core.functions import FUNCTIONS
from mapper.core.schema import OKTA_TYPES, SCIM_TYPES


class MapperLexer(RegexLexer):
    """The Pygments lexer of mapper rulesets (``*.mapper``)."""

    name = "mapper"
    aliases: ClassVar[list[str]] = ["mapper", "mapper-ruleset"]
    filenames: ClassVar[list[str]] = ["*.mapper"]
    mimetypes: ClassVar[list[str]] = ["text/x-mapper"]

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r"(ruleset)(\s+)([\w-]+)", bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"(extends)(\s+)([\w-]+)", bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"(schema)(\s+)(\w+)", bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"profile\b", Keyword.Declaration),
            (r"(on)(\s+)(create)\b", bygroups(Keyword, Whitespace, Keyword)),
            (words(("primary", "default", "eq"), suffix=r"\b"), Keyword),
            (words(("true", "false", "null", "NULL"), suffix=r"\b"), Keyword.Constant),
            (words(("AND", "OR", "matches"), suffix=r"\b"), Operator.Word),
            (r"(user)(\.)(getInternalProperty)\b", bygroups(Name.Builtin, Punctuation, Name.Function)),
            (r"(user)(\.)(\w+)", bygroups(Name.Builtin, Punctuation, Name.Variable)),
            (r"(appuser)(\.)", bygroups(Name.Builtin, Punctuation)),  # then the SCIM path, as a target
            (words(tuple(FUNCTIONS), suffix=r"\b"), Name.Function),
            (r"(?i)urn:[\w.:-]+", Name.Namespace),
            (r"(\w+)(:)(?=\w)", bygroups(Name.Namespace, Punctuation)),
            (words(tuple(sorted(set(SCIM_TYPES) | set(OKTA_TYPES))), suffix=r"\b"), Keyword.Type),
            (r'"([^"\n]|"")*"', String.Double),  # as Okta writes strings: a quote doubled, no escapes
            (r"'([^'\n]|'')*'", String.Single),
            (r"-?\d+(\.\d+)?([eE][+-]?\d+)?", Number),
            (r"<-", Operator),
            (r"\?:|==|!=|<=|>=|&&|\|\||[<>!?:+]", Operator),
            (r"[\[\]{}().,=]", Punctuation),
            (r"\$?\w[\w-]*", Name.Attribute),
            (r".", Text),
        ]
    }
