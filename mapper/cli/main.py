"""The ``mapper`` command: the group and its commands. Each command lives in its own
module of this package, a thin layer over a library function; this module only
dispatches, in the manner of pre-commit's main.

Exit codes: 0 success; 1 bad data (a profile that cannot be read or mapped, or output
that fails --validate); 2 a bad ruleset, an unreadable file or bad usage; 3 the output
could not be written (a closed pipe, a full disk); 4 refused by a guard and 5 the app
refused or stopped answering (sync, probe, import users); 70 an internal error (a bug: one line, no
traceback); 130 interrupted.
"""

from __future__ import annotations

import click

from mapper import __version__
from mapper.cli import import_users, okta, plan, probe, render, review, serve, sync

# Only click and the standard library are imported up front: `mapper --help` and
# `--version` load nothing else, and each command imports what it uses when it runs.


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mapper")  # not importlib.metadata: 30 ms
def main() -> None:
    """Map Okta user profiles to SCIM 2.0 with a reviewed ruleset.

    Exit codes: 0 success; 1 bad data (a profile, or output that fails
    --validate); 2 a bad ruleset, an unreadable file, or bad usage; 3 the
    output could not be written; 4 refused by a guard and 5 the app refused
    or stopped answering (sync, probe, import users); 70 an internal error (a bug, one line);
    130 interrupted.
    """


okta.import_group.add_command(import_users.import_users_command)  # `mapper import users`

for command in (
    render.render, review.check, review.fmt, review.explain, review.test_command, review.review,
    render.diff, plan.plan_command, render.compile_, okta.import_group, okta.export_group, sync.sync,
    probe.probe, serve.serve,
):  # fmt: skip
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
