"""What a gateway imports: Ruleset (render, create, patch, put, reconcile), load and the
compile cache's front door. Importable without the parser: a ruleset read from the compile
cache never loads it.

May import the compiler, the language and the shared core; never a product or the command line.
"""
