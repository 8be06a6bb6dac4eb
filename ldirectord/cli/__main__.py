"""`python -m ldirectord.cli`: the command line, as the `ldirectord` script runs it."""

import sys

from ldirectord.cli import main

if __name__ == "__main__":
    sys.exit(main())
