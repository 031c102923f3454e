"""`python -m streamq.cli`."""

import os
import sys

from .main import main

main(prog_name=os.path.basename(sys.argv[0]))
