"""The admin console's domain side, free of HTTP (the blueprint is bridge/web/admin.py)."""
