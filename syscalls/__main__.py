import sys

from syscalls.cli import main

sys.exit(main())
