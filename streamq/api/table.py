"""The route table: the API's own routes, then the compatibility routes. The one source
of the router, the auth scopes and the OpenAPI document."""

from __future__ import annotations

from .compat import COMPAT_ROUTES
from .routes import ROUTES as API_ROUTES
from .routes import Route

ROUTES: tuple[Route, ...] = (*API_ROUTES, *COMPAT_ROUTES)
