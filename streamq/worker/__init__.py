"""The worker node: a supervised set of actors joined by bounded memory streams."""

from .node import Node

__all__ = ["Node"]
