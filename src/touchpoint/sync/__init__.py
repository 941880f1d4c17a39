"""Downloads from other systems' APIs into the store (`touchpoint sync ...`).

`salesforce_client` signs in and speaks the REST API (retries, token refresh,
the API allowance); `salesforce` turns SOQL pages into raw rows with a
watermark per object; `schedule` lets `serve` sync and build on an interval.
"""
