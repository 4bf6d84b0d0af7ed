"""The Okta Expression Language functions mapper supports, with their signatures.

One table, read by the checker (names, argument counts and types), the code
generator (which runtime helper to call) and the README's reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from mapper.core.types import BOOLEAN, DECIMAL, INTEGER, NULL, STRING, ValueType

# Parameter kinds: "string", "integer", "scalar" (string or number), "array",
# "element" (the element type of the preceding array), and "pattern" /
# "replacement" (string literals, compiled when the ruleset loads).


@dataclass(frozen=True, slots=True)
class Function:
    """An Okta EL function mapper supports: its signature, the helper that runs it, its reference entry."""

    name: str
    params: tuple[str, ...]
    returns: ValueType
    impl: str  # the helper's name in mapper.core.helpers
    summary: str
    example: str
    rest: str | None = None  # kind of any further arguments
    rest_in_pairs: bool = False
    nullable: bool = True  # may return null (null in, null out)
    returns_from: str | None = None  # "array", "element" or "flatten": the type follows the arguments
    most_rest: int | None = None  # how many further arguments at most (None: any number)
    raises: bool = False  # may reject a value or a result too long (a ProfileError at render time)

    @property
    def min_args(self) -> int:
        """The fewest arguments a call takes."""
        return len(self.params)

    @property
    def max_args(self) -> int | None:
        """The most arguments a call takes; None for any number."""
        if self.rest:
            return None if self.most_rest is None else len(self.params) + self.most_rest
        return len(self.params)

    @property
    def signature(self) -> str:
        """The call as the reference shows it: ``String.join(string, string, string, ...)``."""
        args = list(self.params)
        if self.rest:
            args.append(f"{self.rest}, ..." if not self.rest_in_pairs else "key, value, ...")
        return f"{self.name}({', '.join(args)})"


_FUNCTIONS = (
    Function("String.toUpperCase", ("string",), STRING, "to_upper",
             "Upper-cases the string.", 'String.toUpperCase(user.lastName)', raises=True),
    Function("String.toLowerCase", ("string",), STRING, "to_lower",
             "Lower-cases the string.", 'String.toLowerCase(user.email)', raises=True),
    Function("String.substringBefore", ("string", "string"), STRING, "substring_before",
             "The part before the first separator; the whole string when there is none.",
             'String.substringBefore(user.login, "@")'),
    Function("String.substringAfter", ("string", "string"), STRING, "substring_after",
             "The part after the first separator; empty (so omitted) when there is none.",
             'String.substringAfter(user.login, "@")'),
    Function("String.substring", ("string", "integer", "integer"), STRING, "substring",
             "Characters from START (inclusive) to END (exclusive), clamped to the string.",
             "String.substring(user.firstName, 0, 1)"),
    Function("String.replace", ("string", "pattern", "replacement"), STRING, "replace",
             "Replaces every match of a regular expression (a literal; $1 refers to a group).",
             'String.replace(user.login, "@.*$", "")', raises=True),
    Function("String.replaceFirst", ("string", "pattern", "replacement"), STRING, "replace_first",
             "Replaces the first match of a regular expression (a literal).",
             'String.replaceFirst(user.title, " +", " ")', raises=True),
    Function("String.append", ("string", "string"), STRING, "concat",
             "Concatenates two strings, as + does.", 'String.append(user.firstName, "!")', raises=True),
    Function("String.join", ("string", "string"), STRING, "join",
             "Joins the non-empty strings with the separator.",
             'String.join(" ", user.firstName, user.middleName, user.lastName)', rest="string", raises=True),
    Function("String.len", ("string",), INTEGER, "length",
             "The number of characters.", "String.len(user.login)"),
    Function("String.removeSpaces", ("string",), STRING, "remove_spaces",
             "Removes every space character.", "String.removeSpaces(user.primaryPhone)"),
    Function("String.stringContains", ("string", "string"), BOOLEAN, "contains",
             "Whether the string contains the other.",
             'String.stringContains(user.email, "@example.com")', nullable=False),
    Function("String.startsWith", ("string", "string"), BOOLEAN, "starts_with",
             "Whether the string starts with the other.", 'String.startsWith(user.login, "admin")',
             nullable=False),
    Function("String.stringSwitch", ("string", "string"), STRING, "string_switch",
             "The value of the first key the input contains, else the default.",
             'String.stringSwitch(user.department, "Other", "Eng", "Engineering", "Ops", "Operations")',
             rest="string", rest_in_pairs=True),
    Function("Convert.toInt", ("scalar",), INTEGER, "to_int",
             "A number or numeric string as an integer, rounded half away from zero.",
             "Convert.toInt(user.employeeNumber)", raises=True),
    Function("Convert.toNum", ("scalar",), DECIMAL, "to_num",
             "A number or numeric string as a decimal.", "Convert.toNum(user.costCenter)", raises=True),
    Function("Time.now", (), STRING, "time_now",
             "The time now, in UTC (or a time zone, in a Joda pattern); only in `on create` rules.",
             'Time.now("America/New_York", "yyyy-MM-dd HH:mm:ss")', rest="literal", nullable=False,
             most_rest=2),
    Function("Time.fromWindowsToIso8601", ("string",), STRING, "time_from_windows",
             "A Windows (LDAP) timestamp as ISO 8601 in UTC.", "Time.fromWindowsToIso8601(user.lastLogon)",
             raises=True),
    Function("Time.fromUnixToIso8601", ("string",), STRING, "time_from_unix",
             "A Unix timestamp (seconds) as ISO 8601 in UTC.", "Time.fromUnixToIso8601(user.hireEpoch)",
             raises=True),
    Function("Time.fromStringToIso8601", ("string", "timepattern"), STRING, "time_from_string",
             "A time written in a Joda pattern as ISO 8601 in UTC.",
             'Time.fromStringToIso8601(user.hireDate, "MM/dd/yyyy")', raises=True),
    Function("Time.fromIso8601ToWindows", ("string",), STRING, "time_to_windows",
             "An ISO 8601 time as a Windows timestamp.", "Time.fromIso8601ToWindows(user.hireDate)", raises=True),
    Function("Time.fromIso8601ToUnix", ("string",), STRING, "time_to_unix",
             "An ISO 8601 time as a Unix timestamp (seconds).", "Time.fromIso8601ToUnix(user.hireDate)",
             raises=True),
    Function("Time.fromIso8601ToString", ("string", "timepattern"), STRING, "time_to_string",
             "An ISO 8601 time written in a Joda pattern, in UTC.",
             'Time.fromIso8601ToString(user.hireDate, "yyyy-MM-dd")', raises=True),
    Function("Iso3166Convert.toAlpha2", ("string",), STRING, "iso_alpha2",
             "An ISO 3166-1 country code (alpha-2, alpha-3 or numeric) as alpha-2.",
             "Iso3166Convert.toAlpha2(user.countryCode)", raises=True),
    Function("Iso3166Convert.toAlpha3", ("string",), STRING, "iso_alpha3",
             "An ISO 3166-1 country code as alpha-3.", "Iso3166Convert.toAlpha3(user.countryCode)", raises=True),
    Function("Iso3166Convert.toNumeric", ("string",), STRING, "iso_numeric",
             "An ISO 3166-1 country code as its three-digit number.",
             "Iso3166Convert.toNumeric(user.countryCode)", raises=True),
    Function("Iso3166Convert.toName", ("string",), STRING, "iso_name",
             "An ISO 3166-1 country code as the country's name.", "Iso3166Convert.toName(user.countryCode)",
             raises=True),
    Function("Arrays.add", ("array", "element"), ValueType("null", True), "array_add",
             "The array with the value added at the end.", "Arrays.add(user.tags, \"vip\")",
             nullable=False, returns_from="array"),
    Function("Arrays.remove", ("array", "element"), ValueType("null", True), "array_remove",
             "The array without the first occurrence of the value.", "Arrays.remove(user.tags, \"vip\")",
             returns_from="array"),
    Function("Arrays.clear", ("array",), ValueType("null", True), "array_clear",
             "An empty array (no value in the resource).", "Arrays.clear(user.tags)", returns_from="array"),
    Function("Arrays.get", ("array", "integer"), NULL, "array_get",
             "The entry at a position from 0; null past either end.", "Arrays.get(user.tags, 0)",
             returns_from="element"),
    Function("Arrays.flatten", (), ValueType("null", True), "array_flatten",
             "Values and arrays as one array.", "Arrays.flatten(user.tags, \"vip\")", rest="any",
             nullable=False, returns_from="flatten"),
    Function("Arrays.contains", ("array", "element"), BOOLEAN, "array_contains",
             "Whether the array holds the value.", 'Arrays.contains(user.tags, "vip")', nullable=False),
    Function("Arrays.size", ("array",), INTEGER, "array_size",
             "The number of entries (0 for a missing array).", "Arrays.size(user.tags)", nullable=False),
    Function("Arrays.isEmpty", ("array",), BOOLEAN, "array_is_empty",
             "Whether the array is missing or empty.", "Arrays.isEmpty(user.tags)", nullable=False),
    Function("Arrays.toCsvString", ("array",), STRING, "array_to_csv",
             "The entries joined with commas.", "Arrays.toCsvString(user.tags)", raises=True),
)  # fmt: skip

FUNCTIONS: Mapping[str, Function] = MappingProxyType({f.name: f for f in _FUNCTIONS})

#: Okta's deprecated bare functions and the current form each stands for. They still
#: evaluate in Okta, so a pasted expression works here too, with a warning.
DEPRECATED: Mapping[str, str] = MappingProxyType(
    {
        "toUpperCase": "String.toUpperCase",
        "toLowerCase": "String.toLowerCase",
        "substringBefore": "String.substringBefore",
        "substringAfter": "String.substringAfter",
        "substring": "String.substring",
    }
)
