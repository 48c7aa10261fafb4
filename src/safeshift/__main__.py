"""``python -m safeshift``."""

from safeshift.cli.app import main

main()
