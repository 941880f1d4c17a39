"""`touchpoint demo`: a synthetic world with known truth, played through the real paths.

`world` makes the month and knows what touchpoint must conclude; `calls` and
`crm` write what the vendors and Salesforce would send; `intake` plays it into
a real server over HTTP; `score` compares the build with the truth; `summary`
prints it; `run` does it end to end (`run_demo`).
"""
