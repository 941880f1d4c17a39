"""Input formats: each module turns one kind of record into raw-table rows."""
