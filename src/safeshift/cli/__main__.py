"""``python -m safeshift.cli``."""

from safeshift.cli.app import main

main()
