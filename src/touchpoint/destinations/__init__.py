"""Where results are sent (DESIGN §10, §13, §14): one module per destination.

`DESTINATIONS` is the one list of them: each entry is the `Destination` its
module declares, and `push`, `serve`'s schedule and the docs read it. Adding a
destination is its module here and one entry below.
"""

from touchpoint.destinations.destination import Destination, ObjectPush, PushResult
from touchpoint.destinations.google_ads import GOOGLE_ADS
from touchpoint.destinations.salesforce import SALESFORCE

DESTINATIONS: tuple[Destination, ...] = (SALESFORCE, GOOGLE_ADS)

__all__ = ["DESTINATIONS", "Destination", "ObjectPush", "PushResult"]
