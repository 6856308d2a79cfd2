"""The values `Loader`'s options take, in a module of their own so that the CLI can offer the
same choices and limits without importing the loader (and with it the connector)."""

from __future__ import annotations

COMPRESSIONS = ("auto", "gzip", "zstd", "none")  # auto: chosen per part from measured rates
FORMATS = ("auto", "csv", "parquet")
# Snowflake loads files of 100-250 MB compressed in parallel best; a part is cut once its
# staged (compressed) size reaches this.
DEFAULT_PART_SIZE_MB = 100
# Smaller parts only multiply PUTs and COPY's files: 1e-7 MB once meant one part per row.
MIN_PART_SIZE_MB = 5
# Each worker holds a session; beyond this many, more only queue on the server and the client's cores.
MAX_WORKERS = 32
DEFAULT_WORKERS = 4
DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY = 0.5  # s before the first retry; doubles each time
