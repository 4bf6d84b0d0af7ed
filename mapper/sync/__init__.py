"""``mapper sync``: keep a SCIM app in line with Okta's users, remembering what the app was
sent (state), surviving an app that fails, throttles or drops connections, and never doing
more harm than the admin consented to.

decide.py (what one user needs: pure, shared with ``mapper plan``), guard.py (how many may
be deactivated), engine.py (decisions carried out on a pool of threads, under the guard),
records.py (what a run passes around), retry.py (backoff, Retry-After, rate limit, circuit
breaker, below the SCIM client), app.py (the app's SCIM API: pre-flight, verified
searches), state.py (SQLite: lock, migrations, claims), saved_plan.py (--plan-out, --apply).
May import the runtime and the shared core; nothing here imports the command line.
"""
