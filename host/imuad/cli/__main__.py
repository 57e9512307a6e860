"""`python -m imuad.cli ...` = `imuad ...`."""
import sys

from . import main

sys.exit(main())
