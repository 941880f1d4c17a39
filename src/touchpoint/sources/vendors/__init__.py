"""Call-tracking vendors: their records, files, webhooks and signatures → raw-call rows.

`VENDORS` is the one list of them: each entry is the `Vendor` its module
declares (`vendor.Vendor`), and everything that handles a vendor reads it.
Adding a vendor is its module here and one entry below.
"""

from touchpoint.sources.vendors.callrail import CALLRAIL
from touchpoint.sources.vendors.calls_csv import CALLS_CSV
from touchpoint.sources.vendors.ctm import CTM
from touchpoint.sources.vendors.invoca import INVOCA
from touchpoint.sources.vendors.twilio import TWILIO
from touchpoint.sources.vendors.vendor import Vendor

VENDORS: tuple[Vendor, ...] = (CTM, CALLRAIL, INVOCA, TWILIO, CALLS_CSV)

__all__ = ["VENDORS", "Vendor"]
