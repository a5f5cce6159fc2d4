"""Composition root: settings, the FastAPI app, JSON API routers, pages and the CLI."""
