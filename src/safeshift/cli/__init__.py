"""The ``safeshift`` command: :mod:`safeshift.cli.app` parses and calls :mod:`safeshift.api`,
:mod:`safeshift.cli.render` shows the result with Rich."""
