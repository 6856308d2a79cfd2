"""Serves the embedded Snowflake from its own process, for tests that measure the loader alone.

Prints the connect keyword arguments as one JSON line, then serves until stdin closes.
"""

import json
import sys

from snowload_nb.local import embedded_server

print(json.dumps(embedded_server().connect_kwargs()), flush=True)
sys.stdin.read()
