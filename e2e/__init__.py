"""Browser and terminal end-to-end checks, run by `make e2e` (not by `make test`)."""
