"""Nozama: the building blocks of Amazon ECS on machines you own."""

__version__ = "0.1.0"
