"""What a gateway imports: Ruleset and the helpers compiled code calls. Importable
without the parser: a ruleset read from the compile cache never loads it.
"""
