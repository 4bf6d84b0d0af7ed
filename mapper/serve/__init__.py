"""mapper serve: a live playground page for writing and reviewing rulesets (a product).

playground.py answers the page's questions with the library's own functions; server.py is
the standard library's HTTP server around it, bound to 127.0.0.1 and guarded by a per-run
token and Host and Origin checks; static/ holds the page (HTML, CSS, JavaScript), shipped
in the wheel. Imports the runtime, the language, the review tools and the core.
"""
