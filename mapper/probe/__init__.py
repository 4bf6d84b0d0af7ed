"""``mapper probe`` (a product): test an app's SCIM API before provisioning with one throwaway
user, as Okta's SPEC and CRUD test suites do, with the ruleset's own requests, and find the
PATCH style the app really applies.

checks.py holds the checks and the probe that runs them; report.py the verdict, as text and
JSON. May import sync's app client (the same pre-flight and HTTP client as sync), the
runtime and everything below it; never the command line.
"""
