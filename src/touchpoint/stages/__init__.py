"""The stages: pure functions from Ibis tables to an Ibis table, one per result table.

`pipeline.STAGES` lists them in order and `run_stages` runs them; each module is
named after the table it makes. No stage reads or writes storage.
"""
