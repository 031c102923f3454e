"""The worker node: a supervised set of actors joined by channels its slots bound."""

from .node import Node

__all__ = ["Node"]
