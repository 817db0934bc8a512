"""Benchmarks of PSC Bridge (`make bench`, `python -m bench --help`). Not part of `make test`.

Starts a real redis-server, the PSC emulator and the bridge under gunicorn (`bridge serve`, the production
entrypoint) on free loopback ports, drives them with a closed-loop load generator and reports throughput,
latency percentiles, Redis commands per operation and Redis bytes per SSO session. A bare Flask "hello" app
served with the same gunicorn configuration gives the framework ceiling. Scenarios: bench/scenarios.py.

Card benches, on a private pcscd + vpcd (root): `python -m bench.card_sharing` (the card agent next to the billing
software) and `python -m bench.card_removal` (card pulled out -> back-channel logout at the app).
"""
