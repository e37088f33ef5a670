import sys
from pathlib import Path

# finite_differences.py sits next to the tests; make it importable whatever pytest's rootdir.
sys.path.insert(0, str(Path(__file__).parent))
