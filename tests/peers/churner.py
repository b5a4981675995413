"""Test peer: the churner `make adversity` runs (tools/soak/churner.py), run as a script.

It holds one listener on the session for good, prints ``ready``, then subscribes and
unsubscribes made-up listeners on the session as fast as it can until it is killed.
"""

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: its tools/
# argv: endpoint channel session
runpy.run_module("tools.soak.churner", run_name="__main__")
