"""``python -m safeshift``."""

from safeshift.cli import main

main()
