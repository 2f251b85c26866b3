"""The web calculator: a FastAPI app (``create_app``) serving the API and a static page."""

from lawt.web.app import create_app

__all__ = ["create_app"]
