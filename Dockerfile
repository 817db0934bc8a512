# PSC Bridge — production image. Build stage compiles pyscard (no Linux wheel); runtime is slim and non-root.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends swig libpcsclite-dev gcc && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock ./
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.lock
COPY app.py ./
COPY bridge ./bridge
RUN /venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libpcsclite1 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app bridge
COPY --from=build /venv /venv
WORKDIR /app
COPY app.py ./
COPY bridge ./bridge
COPY templates ./templates
COPY policies ./policies
ENV PATH=/venv/bin:$PATH BRIDGE_ENV=production PYTHONUNBUFFERED=1
USER bridge
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/.well-known/openid-configuration', timeout=2)" || exit 1
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "app:create_app()"]
