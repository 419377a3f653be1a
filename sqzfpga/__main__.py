import sys

from sqzfpga.cli import main

sys.exit(main())
