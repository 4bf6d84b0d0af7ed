"""What the tests share: one way to run the CLI (cli.py), the SCIM servers they provision
to (scim_server.py: scim2-server on loopback; fake_app.py: an app that misbehaves on
purpose; fault_proxy.py: faults injected between the two), independent oracles
(scim_oracle.py, reference.py: a second evaluator of the language), Hypothesis strategies
(strategies.py) and the generated-code allowlist (codecheck.py)."""
