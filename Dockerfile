# PSC Bridge — production image. Build stage compiles what has no wheel (pyscard, for the card agent); the
# runtime stage is slim, non-root, and runs `bridge serve` (gunicorn, graceful stop on SIGTERM).
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends swig libpcsclite-dev gcc && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY app.py ./
COPY bridge ./bridge
# Runtime dependencies only (not the test tools of requirements.lock), each at its locked version.
RUN python -m venv /venv \
 && /venv/bin/pip install --no-cache-dir --upgrade pip \
 && /venv/bin/pip install --no-cache-dir --constraint requirements.lock .

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libpcsclite1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app bridge
COPY --from=build /venv /venv
WORKDIR /app
COPY app.py ./
COPY bridge ./bridge
COPY templates ./templates
COPY policies ./policies
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    BRIDGE_ENV=production BRIDGE_BIND=0.0.0.0:8000 BRIDGE_POLICIES_DIR=/app/policies
USER bridge
EXPOSE 8000
# Liveness only: /readyz (store, policies, keys, PSC) is for the load balancer or the orchestrator's readiness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
STOPSIGNAL SIGTERM
# `bridge serve` execs the gunicorn master, which becomes PID 1 and receives SIGTERM itself.
CMD ["bridge", "serve"]
