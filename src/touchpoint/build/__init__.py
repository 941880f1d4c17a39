"""The only writer of results: the intake log and raw tables in, a published snapshot out.

`build` runs the stages (`touchpoint.stages`) on a backend (`backends`: DuckDB in
this process, or `spark`) after loading the collector's log (`intake`), and
publishes the results atomically.
"""
