"""HTTP layer: blueprints only; the logic they call is plain Python elsewhere in bridge/. The application is put
together in bridge/web/factory.py."""
