"""`touchpoint demo`: a synthetic world with known truth, played through the real paths."""
