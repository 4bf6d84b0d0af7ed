"""The ``mapper`` command line, the top layer: main.py dispatches, one module per command
family (render, review, plan, okta, sync) holds its click commands, each a thin layer over a
library function, and common.py the pieces they share, among them the one error handler.
It may import every other package; nothing imports it."""
