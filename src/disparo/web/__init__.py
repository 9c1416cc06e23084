"""The admin page: static files served by the API at /admin, calling the admin REST API."""
