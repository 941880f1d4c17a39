"""The collector: tracking snippet, event intake over HTTP, and the durable intake log.

`serve` never writes the DuckDB store (DESIGN §5). Requests are validated
(`batch`), bounded (`guards`), appended to the intake log (`frames`,
`segments`) and acknowledged only once the log is on disk; `touchpoint build`
loads closed log segments into the store (`intake`).
"""
