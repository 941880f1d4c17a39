"""touchpoint: bind inbound phone calls to the web sessions that produced them."""

__version__ = "0.1.0"
