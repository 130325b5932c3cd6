import sys

from ledctl.cli import main

sys.exit(main())
