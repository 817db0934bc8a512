"""Fuzz profiles: a short run in `make test`, a long one with `make fuzz` (HYPOTHESIS_PROFILE=long)."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("short", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))
