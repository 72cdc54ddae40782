"""python -m grading ASSIGNMENT SUBMISSIONS [options]: see grading/cli.py and docs/grading.md."""
import sys

from .cli import main

sys.exit(main())
