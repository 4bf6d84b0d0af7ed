"""One way for the tests to run the command line: in this process (click's CliRunner), or
as a separate process where a test needs real file descriptors or a signal."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mapper.cli.main import main


@dataclass
class Ran:
    """A command's outcome: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def exit_code(self) -> int:  # click's name for it
        return self.returncode


def mapper_cli(
    *args: str | Path, input: str | bytes | None = None, env: dict[str, str | None] | None = None
) -> Ran:
    """`mapper ARGS` in this process. An exception that is not a clean exit (a bug) is raised,
    and exit code 70 (an internal error) fails the test: no user input may cause either."""
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code != 70, result.stderr
    return Ran(result.exit_code, result.stdout, result.stderr)


#: The command line as a process of this Python (the package need not be on PATH).
COMMAND = [sys.executable, "-c", "from mapper.cli.main import main; main()"]


def mapper_process(
    *args: str | Path, timeout: float = 300, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """`mapper ARGS` as its own process (bytes in and out; KWARGS go to subprocess.run, ENV
    is added to this process's environment)."""
    env = kwargs.pop("env", None)
    return subprocess.run(
        [*COMMAND, *map(str, args)], capture_output=True, timeout=timeout, check=False,
        env={**os.environ, **env} if env else None, **kwargs,
    )  # fmt: skip
