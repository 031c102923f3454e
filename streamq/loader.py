"""Find the App a command names: `module:attr` or `module.attr`."""

from __future__ import annotations

import importlib
import os
import sys

from .app import App
from .errors import ConfigurationError


def load_app(spec: str) -> App:
    """Import the module and return its App; the working directory is importable."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"APP must look like module:attr or module.attr, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from exc
    app = getattr(module, attr, None)
    if not isinstance(app, App):
        raise ConfigurationError(f"{spec!r} is not a streamq App (found {type(app).__name__})")
    return app
