"""Dockyard: a container engine with Docker's command line, in Python, without a daemon.

The importable API is `dockyard.Engine` (see dockyard.services.engine); errors are
in `dockyard.errors`. Attributes load on first use, so `import dockyard` costs
nothing the `run` hot path does not need.
"""

__version__ = "0.1.0"
__all__ = ["Engine", "CreateOptions", "Resources", "errors", "__version__"]


def __getattr__(name: str):
    if name == "Engine":
        from .services.engine import Engine

        return Engine
    if name in ("CreateOptions", "Resources"):
        from .services import options

        return getattr(options, name)
    if name == "errors":
        # not `from . import errors`: that asks this very hook for the attribute first
        import importlib

        return importlib.import_module(".errors", __name__)
    raise AttributeError(name)
