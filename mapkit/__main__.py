import sys

from mapkit.cli import main

sys.exit(main())
