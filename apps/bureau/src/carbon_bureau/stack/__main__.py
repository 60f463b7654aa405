"""``python -m carbon_bureau.stack``: see :mod:`carbon_bureau.stack.cli`."""

from carbon_bureau.stack.cli import main

main()
