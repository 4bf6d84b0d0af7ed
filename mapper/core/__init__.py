"""The shared core, under everything else: the checked plan's data types (plan.py), the
helpers generated code calls (helpers.py), regular expressions on RE2 (regex.py), Joda time
formats (timefmt.py), and the limits every HTTP answer is held to (http.py). With
mapper.errors and mapper.markup, it imports nothing else of mapper: every other package
may import it."""
