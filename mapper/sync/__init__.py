"""``mapper sync``: keep a SCIM app in line with Okta's users, remembering what the app was
sent (state), and surviving an app that fails, throttles or drops connections.

retry.py (backoff, Retry-After, rate limit, below the SCIM client), app.py (the app's
SCIM API through scim2-client), state.py (SQLite), engine.py (what each user needs, done
concurrently, committed only once the app acknowledged it).
"""
