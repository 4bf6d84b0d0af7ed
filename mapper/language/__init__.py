"""The ruleset language: text to a checked plan (parser, syntax tree, checker, loader) and
back (the unparser).

May import the shared core only. Nothing here is needed to run a compiled ruleset; the
parser (Lark) is imported only by the modules that parse.
"""
