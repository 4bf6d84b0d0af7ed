"""The checker: every kind of mistake it catches, with the exact message and hint."""

from __future__ import annotations

import pytest

import mapper
from tests.conftest import diagnostics

HEAD = "ruleset t\nuserName <- user.login\n"
APPSPACE = 'schema appspace = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User" {\n  costCenter: string\n}\n'


def only_error(body: str, header: str = HEAD) -> mapper.Diagnostic:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(header + body, "t.mapper")
    errors = caught.value.errors
    assert len(errors) == 1, [e.format() for e in errors]
    return errors[0]


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        (
            "name.givenNme <- user.firstName\n",
            "unknown attribute 'givenNme' in name",
            "did you mean `givenName`?",
        ),
        ("titel <- user.title\n", "unknown attribute 'titel' in User", "did you mean `title`?"),
        (
            "department <- user.department\n",
            "unknown attribute 'department' in User",
            "did you mean `enterprise:department`?",
        ),
        (
            "name.givenname <- user.firstName\n",
            "'givenname' differs only in case from 'givenName'",
            "SCIM URNs and names must match exactly, capitalisation included: write `givenName`",
        ),
        ("id <- user.login\n", "id is read-only: the service provider sets it", ""),
        ("meta.created <- user.login\n", "meta is read-only: the service provider sets it", ""),
        (
            'groups[type eq "x"].value <- user.login\n',
            "groups is read-only: the service provider sets it",
            "",
        ),
        (
            "enterprise:manager.displayName <- user.manager\n",
            "manager.displayName is read-only: the service provider sets it",
            "",
        ),
        (
            "active <- user.title\n",
            "active is boolean, but the expression gives string",
            'compare to get true or false: user.x == "true"',
        ),
        ("title <- user.title == null\n", "title is string, but the expression gives boolean", ""),
        (
            "emails.value <- user.email\n",
            "emails is multi-valued: select the entry with a type filter",
            'for example emails[type eq "work"].value',
        ),
        (
            "emails <- user.email\n",
            "emails is complex: name a sub-attribute",
            'for example emails[type eq "work"].value',
        ),
        ('emails[value eq "x"].value <- user.email\n', "entries are selected by type", 'write [type eq "x"]'),
        (
            'emails[type eq "work"].type <- "x"\n',
            "emails[...].type is set by mapper",
            "the type comes from the filter",
        ),
        (
            'emails[type eq "work"].primary <- true\n',
            "unexpected 'primary'; expected a name",
            "an entry is made primary with the `primary` option at the end of its rule",
        ),
        (
            'name[type eq "x"].givenName <- user.firstName\n',
            "name is not multi-valued: remove the filter",
            "",
        ),
        ("title.x <- user.title\n", "title is a simple attribute: it has no sub-attributes", ""),
        (
            "title <- user.title primary\n",
            '`primary` applies to a multi-valued entry such as emails[type eq "work"].value',
            "",
        ),
        ("title <- user.title default true\n", "the default of title must be string", ""),
        ("title <- null\n", "this expression is always null, so the rule never sets a value", ""),
        (
            "title <- user.title\ntitle <- user.displayName\n",
            "title is already set on line 3",
            "one rule per target; combine them with `c ? a : b` or `a ?: b`",
        ),
        (
            'emails[type eq "work"].value <- user.email primary\nemails[type eq "home"].value <- user.secondEmail primary\n',
            "emails: entries 'work' and 'home' are both primary",
            "at most one entry is primary (RFC 7643 section 2.4); the other is at t.mapper:3",
        ),
        (
            "title <- String.toLowerCas(user.title)\n",
            "unknown function String.toLowerCas",
            "did you mean `String.toLowerCase`?",
        ),
        (
            "title <- String.toLowerCase(user.title, 1)\n",
            "String.toLowerCase takes 1 argument, got 2",
            "usage: String.toLowerCase(string)",
        ),
        (
            'title <- String.join(",")\n',
            "String.join takes at least 2 arguments, got 1",
            "usage: String.join(string, string, string, ...)",
        ),
        (
            'title <- String.substring(user.title, "0", 2)\n',
            "argument 2 of String.substring must be integer, not string",
            "usage: String.substring(string, integer, integer)",
        ),
        (
            'title <- String.replace(user.title, user.login, "")\n',
            "the pattern of String.replace must be a string literal",
            "",
        ),
        (
            'title <- String.replace(user.title, "(", "")\n',
            "invalid regular expression: missing ): (",
            "RE2 syntax: no backreferences or lookaround",
        ),
        (
            'title <- String.replace(user.title, "(a)\\1", "")\n',
            "invalid regular expression: invalid escape sequence: \\1",
            "RE2 syntax: no backreferences or lookaround",
        ),
        (
            'title <- String.replace(user.title, "(a)", "$2")\n',
            "the replacement refers to group 2, but the pattern has 1",
            "",
        ),
        (
            'title <- String.stringSwitch(user.title, "d", "k")\n',
            "String.stringSwitch takes keys and values in pairs",
            "usage: String.stringSwitch(string, string, key, value, ...)",
        ),
        (
            'title <- user.getInternalProperty("stat")\n',
            "unknown internal property 'stat'",
            "did you mean `status`?",
        ),
        (
            "title <- user.getLogin()\n",
            "unknown method user.getLogin()",
            'the only method on user is getInternalProperty("id"), ("status"), ...',
        ),
        (
            "active <- user.title AND true\n",
            "AND needs true or false, not string",
            "test for a value with `!= null`",
        ),
        (
            'title <- user.title ? "a" : "b"\n',
            "?: needs true or false, not string",
            "test for a value with `!= null`",
        ),
        (
            'title <- user.title != null ? "a" : 1\n',
            "the branches of ?: give string and integer",
            "both branches must give the same type (or null)",
        ),
        (
            "active <- user.title == 1\n",
            "comparing string with integer is always false",
            "Convert.toInt or Convert.toNum turn strings into numbers",
        ),
        (
            "active <- user.title < 1\n",
            "cannot order string and integer with <",
            "compare two numbers or two strings",
        ),
        ("title <- user.title + true\n", "cannot use + on boolean", "+ joins strings or adds numbers"),
        (
            "appspace:costCenter <- user.costCenter\n",
            "unknown schema alias 'appspace'",
            'declare it with `schema ALIAS = "URN" { ... }`',
        ),
        (
            "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User:department <- user.department\n",
            "this URN differs only in case from a declared schema",
            "SCIM URNs and names must match exactly, capitalisation included: "
            "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`",
        ),
        (
            'schema appspace = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user" {\n  x: string\n}\n',
            "this URN differs only in case from a known schema",
            "SCIM URNs and names must match exactly, capitalisation included: "
            "`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`",
        ),
        ('schema x = "urn:ex:y" {\n  a: strng\n}\n', "unknown SCIM type 'strng'", "did you mean `string`?"),
        (
            'schema x = "urn:ex:y" {\n  a: string\n  A: string\n}\n',
            "attribute 'A' is declared twice",
            "SCIM names are case-insensitive",
        ),
        (
            'schema x = "not-a-urn" {\n  a: string\n}\n',
            "'not-a-urn' is not a schema URN",
            'write it as "urn:...:User"',
        ),
        (
            'schema x = "urn:ex:y"\n',
            "unknown schema urn:ex:y",
            "declare its attributes in braces: { name: string }",
        ),
        ("profile {\n  badge: int\n}\n", "unknown Okta type 'int'", "did you mean `integer`?"),
        (
            "profile {\n  email: string\n}\n",
            "'email' is an Okta base profile attribute",
            "only custom attributes are declared",
        ),
        ("ruleset again\n", "a file has one `ruleset` header", "remove this line"),
    ],
)
def test_error(body: str, message: str, hint: str) -> None:
    error = only_error(body)
    assert error.message == message
    assert error.hint == hint
    assert error.span is not None and error.span.file == "t.mapper"


def test_errors_carry_line_and_caret_under_the_culprit() -> None:
    error = only_error("name.givenNme <- user.firstName\n")
    assert error.format().splitlines() == [
        "t.mapper:3:6: error: unknown attribute 'givenNme' in name",
        "    name.givenNme <- user.firstName",
        "         ^^^^^^^^",
        "    hint: did you mean `givenName`?",
    ]


def test_all_errors_of_a_file_at_once() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(HEAD + "titel <- user.title\nid <- user.login\nactive <- user.title\n", "t.mapper")
    assert [d.span.line for d in caught.value.errors if d.span] == [3, 4, 5]


def test_missing_user_name() -> None:
    error = only_error("title <- user.title\n", header="ruleset t\n")
    assert error.message == "the ruleset never sets userName, which RFC 7643 requires"
    assert error.hint == "add for example `userName <- user.login`"


def test_unknown_parent() -> None:
    error = only_error("", header="ruleset t extends okta-defualt\nuserName <- user.login\n")
    assert error.message == "no ruleset named 'okta-defualt' to extend"
    assert error.hint == "did you mean `okta-default`?"


def test_cycle_in_extends(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    (base / "a.mapper").write_text("ruleset a extends b\nuserName <- user.login\n")
    (base / "b.mapper").write_text("ruleset b extends a\ntitle <- user.title\n")
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.load(base / "a.mapper")
    (error,) = caught.value.errors
    assert "extends itself (a cycle)" in error.message


def test_errors_in_a_parent_file_name_that_file(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    (base / "parent.mapper").write_text("ruleset parent\nuserName <- user.login\ntitel <- user.title\n")
    (base / "child.mapper").write_text("ruleset child extends parent\ntitle <- user.title\n")
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.load(base / "child.mapper")
    (error,) = caught.value.errors
    assert error.span is not None and error.span.file.endswith("parent.mapper") and error.span.line == 3


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        ("title <- user.titel\n", "t.mapper:3:10: warning: user.titel is not an Okta base profile attribute"),
        ("title <- user.Title\n", "t.mapper:3:10: warning: user.Title differs only in case from user.title"),
    ],
)
def test_unknown_profile_attributes_are_warnings(body: str, warning: str) -> None:
    assert diagnostics(HEAD + body) == [warning]


def test_declared_custom_attributes_are_not_warned_about() -> None:
    assert diagnostics(HEAD + "profile {\n  badge: string\n}\ntitle <- user.badge\n") == []


def test_custom_extension_and_aliases() -> None:
    ruleset = mapper.loads(HEAD + APPSPACE + "appspace:costCenter <- user.costCenter\n", "t.mapper")
    assert ruleset.rules[-1].target == "urn:ietf:params:scim:schemas:extension:appspace:2.0:User:costCenter"


def test_extends_overrides_by_target_and_keeps_position() -> None:
    child = mapper.loads(
        'ruleset child extends okta-default\ntitle <- user.title ?: "Staff"\nnickName <- user.nickName\n',
        "c.mapper",
    )
    parent = mapper.load("okta-default")
    assert [r.target for r in child.rules] == [r.target for r in parent.rules] + ["nickName"]
    title = next(r for r in child.rules if r.target == "title")
    assert title.origin == "child" and title.location == "c.mapper:2"
    assert next(r for r in child.rules if r.target == "userName").origin == "okta-default"


def test_builtin_shipped_rulesets_have_no_warnings(shipped: dict[str, mapper.Ruleset]) -> None:
    for ruleset in shipped.values():
        assert ruleset.warnings == ()


def test_load_of_unknown_name_lists_builtins() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.load("nope")
    assert "built-ins: appspace, enterprise, okta-default" in str(caught.value)


def test_a_file_extending_its_namesake_gets_the_builtin(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "okta-default.mapper"
    path.write_text('ruleset okta-default extends okta-default\ntitle <- user.title ?: "Staff"\n')
    ruleset = mapper.load(path)
    assert len(ruleset.rules) == len(mapper.load("okta-default").rules)
    assert ruleset.render({"login": "a"})["title"] == "Staff"


@pytest.mark.parametrize(
    ("expression", "okta_type", "good", "bad"),
    [
        ('user.groupCode == 123 ? "Sales" : "Other"', "number", {"groupCode": 123}, {"groupCode": "123"}),
        ('user.salary >= 1000000 ? "big" : "small"', "number", {"salary": 2_000_000.5}, {"salary": True}),
        ('!user.isContractor ? "staff" : "contractor"', "boolean", {"isContractor": False}, {"isContractor": "no"}),
        ('user.salary > 1000000 AND !user.isContractor ? "y" : "n"', "number", {"salary": 1, "isContractor": True},
         {"salary": "1"}),
    ],
)  # fmt: skip
def test_undeclared_attributes_take_the_type_their_use_needs(
    expression: str, okta_type: str, good: dict[str, object], bad: dict[str, object]
) -> None:
    # Okta documents these examples; an undeclared attribute's value is checked at render time.
    ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "t.mapper")
    (name,) = [k for k in good if okta_type == "number" or k == "isContractor"][:1]
    warning = next(w for w in ruleset.warnings if f"user.{name} " in w.message)
    assert f"profile {{ {name}: {okta_type} }}" in warning.hint
    assert ruleset.render({"login": "a", **good})["title"]
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", **bad})
    assert caught.value.attribute in bad


def test_an_undeclared_attribute_read_as_two_types_is_an_error() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login\ntitle <- user.code\nactive <- user.code == 1\n", "t.mapper")
    (error,) = caught.value.errors
    assert error.message == "user.code is read as number here and as string on line 2"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("appuser.firstName", "appuser.firstName reads the app's resource: that is the app-to-Okta direction"),
        ("zendesk.firstName", "zendesk.firstName reads the profile of the app 'zendesk', which mapper does not have"),
        ("org.domain", "org.domain reads Okta's organization properties, which a gateway does not have"),
        ('getManagerUser("active_directory").firstName',
         ".firstName of another user or app user (a manager, a linked object, a directory account)"),
        ('user.getLinkedObject("manager").lastName',
         ".lastName of another user or app user (a manager, a linked object, a directory account)"),
        ('hasWorkdayUser() ? "a" : "b"',
         "hasWorkdayUser() needs the user's directory and Workday app assignments, which a profile does not carry"),
        ('isMemberOfGroupName("x") ? "a" : "b"',
         "isMemberOfGroupName() needs the user's group memberships, which a profile does not carry"),
        ('Groups.startsWith("OKTA", "TEST", 100) ?: {}',
         "Groups.startsWith() needs the user's group memberships, which a profile does not carry"),
    ],
)  # fmt: skip
def test_okta_expressions_that_need_more_than_a_profile_are_refused_clearly(
    expression: str, message: str
) -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "t.mapper")
    (error,) = caught.value.errors
    assert error.message == message
