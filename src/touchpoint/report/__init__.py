"""Reports on the latest build: the terminal tables, the HTML dashboard and the JSON API.

`queries`, `credit`, `journeys` and `unmerged` read a published snapshot (read-only,
never blocking a build) into the typed records of `records`; `terminal` prints
them with Rich, `page` renders the self-contained HTML page, and `web` / `api`
serve both behind `[server] token`.
"""
