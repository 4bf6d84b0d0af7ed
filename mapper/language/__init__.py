"""The ruleset language: text to a checked plan (parser, syntax tree, checker, loader).

Nothing here is needed to run a compiled ruleset; the parser (Lark) is imported only
by the modules that parse.
"""
