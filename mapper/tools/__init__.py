"""The review tools and whole exports (products): the formatter on files, check output,
explain, examples (mapper test), review, bulk rendering of exports, mapper plan, output
files and option types.

May import the runtime and everything below it, and sync's decision core (mapper plan
decides as sync does); never the command line.
"""
