"""The admin REST API, bot webhooks, health and Prometheus metrics (FastAPI)."""
