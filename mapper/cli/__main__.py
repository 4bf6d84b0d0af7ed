"""``python -m mapper.cli``: the same as the ``mapper`` command."""

from mapper.cli.main import main

main()
