import sys

from listrank.cli import main

sys.exit(main())
