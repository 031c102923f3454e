"""The HTTP API (aiohttp), inside the package so that `streamq api` runs from a wheel."""
