"""The sweep reuses the CLI tests' background runner."""

from tests.cli.conftest import background

__all__ = ["background"]
