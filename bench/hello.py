"""The framework ceiling: a bare Flask app, served by `bridge serve --app bench.hello:app` (same gunicorn
configuration as the bridge: gthread workers, JSON logging setup, metrics directory)."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "hello\n"
