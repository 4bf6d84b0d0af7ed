"""mapper: compile Okta-to-SCIM mapping rulesets into fast Python functions.

>>> import mapper
>>> ruleset = mapper.load("okta-default")
>>> ruleset.render({"login": "ada@example.com"})["userName"]
'ada@example.com'
"""

from mapper.errors import Diagnostic, MapperError, ProfileError, RulesetError, Severity, Span
from mapper.resources import builtin_names
from mapper.ruleset import Rule, Ruleset, load, loads

__all__ = [
    "Diagnostic",
    "MapperError",
    "ProfileError",
    "Rule",
    "Ruleset",
    "RulesetError",
    "Severity",
    "Span",
    "builtin_names",
    "load",
    "loads",
]
