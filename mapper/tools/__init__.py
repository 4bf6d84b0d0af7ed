"""The admin tools on top of the runtime: the command line, bulk rendering and plans,
the formatter, check output, explain, examples, review.
"""
