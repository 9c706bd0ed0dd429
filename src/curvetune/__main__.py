import sys

from .cli import main

if __name__ == "__main__":  # worker processes (loky, spawned MPI ranks) import this module
    sys.exit(main())
