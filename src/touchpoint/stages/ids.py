"""Stable ids: hashes of what a row stands for, so rebuilding never renumbers."""

from __future__ import annotations

import ibis.expr.types as ir


def session_touchpoint_id(session_id: ir.StringValue) -> ir.StringValue:
    """The touchpoint id of a session (the same session always gets the same id)."""
    return ("session|" + session_id).hexdigest("md5")


def call_touchpoint_id(source_system: ir.StringValue, call_id: ir.StringValue) -> ir.StringValue:
    """The id of a call's own touchpoint, when it did not merge into a session."""
    return ("call|" + source_system + "|" + call_id).hexdigest("md5")
