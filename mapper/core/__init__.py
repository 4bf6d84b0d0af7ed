"""The shared core, under everything else: the checked plan's data types (plan.py), the
helpers generated code calls (helpers.py), regular expressions on RE2 (regex.py), Joda time
formats (timefmt.py), and the one of each shared piece: the SCIM attribute path
(scim_path.py), the update styles (styles.py), the JSON reader (jsonio.py) and the HTTP
client (http.py). With mapper.errors and mapper.markup, it imports nothing else of mapper:
every other package may import it."""
