"""safeshift: run a database migration runbook as one proven, reversible command."""

from safeshift.errors import ExitCode, SafeshiftError

__all__ = ["ExitCode", "SafeshiftError", "__version__"]
__version__ = "0.1.0"
