"""Names, colours and plain words every report shares, so a channel looks the same everywhere."""

from __future__ import annotations

import hashlib

from touchpoint.stages.merge import AMBIGUOUS, MERGED, NO_SESSION, NO_VISITOR_ID, OUTSIDE_WINDOW

NO_TOUCHPOINT = "(no touchpoint)"

MODEL_LABELS = {
    "first_touch": "First touch",
    "lead_creation": "Lead creation",
    "u_shaped": "U-shaped",
    "w_shaped": "W-shaped",
    "full_path": "Full path",
    "custom": "Custom",
    "linear": "Linear",
    "time_decay": "Time decay",
    "last_touch": "Last touch",
    "markov": "Markov",
    "shapley": "Shapley",
}
# What the dashboard's model comparison shows before anyone clicks the legend.
COMPARED_FIRST = ("first_touch", "w_shaped", "linear", "last_touch", "markov")

OUTCOME_LABELS = {
    MERGED: "Merged",
    OUTSIDE_WINDOW: "Outside the window",
    NO_SESSION: "No session",
    NO_VISITOR_ID: "No visitor id",
    AMBIGUOUS: "Ambiguous",
}
OUTCOME_COLORS = {
    MERGED: "#0f9f6e",
    OUTSIDE_WINDOW: "#f0a020",
    NO_SESSION: "#7c83db",
    NO_VISITOR_ID: "#e05260",
    AMBIGUOUS: "#a05fc8",
}

# GA4's default channel group and the CRM campaign channels, each with its own colour.
CHANNEL_COLORS = {
    "Paid Search": "#2f6fed",
    "Organic Search": "#14a37f",
    "Direct": "#5b6b82",
    "Paid Social": "#e0457b",
    "Organic Social": "#a45ee5",
    "Email": "#f2a93b",
    "Referral": "#19a7c4",
    "Display": "#7a5af8",
    "Paid Video": "#e5484d",
    "Organic Video": "#f27b7f",
    "Paid Shopping": "#6aa84f",
    "Organic Shopping": "#9bc53d",
    "Cross-network": "#4a55d6",
    "Paid Other": "#1e4fb8",
    "Affiliates": "#0b84a5",
    "Audio": "#c05bb5",
    "SMS": "#d4a017",
    "Mobile Push Notifications": "#f07f3c",
    "Events": "#8c6d46",
    "Webinar": "#3d8c8c",
    "Direct Mail": "#a67c52",
    "Unassigned": "#b3bccb",
    NO_TOUCHPOINT: "#d9dee7",
}
# Colours for channels a user's own rules invent, picked by a hash of the name so that
# a channel keeps its colour from one build to the next.
EXTRA_COLORS = (
    "#3b8ea5",
    "#c8553d",
    "#588b8b",
    "#8e6c8a",
    "#5d737e",
    "#b5838d",
    "#6b9080",
    "#9c6644",
    "#4f6d7a",
    "#7d8491",
)


def channel_color(channel: str) -> str:
    """The colour a channel has in every chart."""
    known = CHANNEL_COLORS.get(channel)
    if known:
        return known
    digest = hashlib.md5(channel.encode("utf-8")).digest()
    return EXTRA_COLORS[digest[0] % len(EXTRA_COLORS)]


def window_words(minutes: float) -> str:
    """30 → '30 minutes'."""
    shown = f"{minutes:g}"
    return f"{shown} minute" + ("" if shown == "1" else "s")


def outcome_reason(outcome: str, window_minutes: float, anchor: str) -> str:
    """What an outcome means, in the words `explain` uses."""
    window = window_words(window_minutes)
    start = "started" if anchor == "session_start" else "was last active"
    return {
        MERGED: f"The call came within {window} after the caller's web session {start}: "
        "the session's touchpoint, with its channel and campaign, carries the call.",
        OUTSIDE_WINDOW: f"The caller had a web session, but the call came more than {window} "
        f"after it {start}: the call is a touchpoint of its own.",
        NO_SESSION: "The call carries a visitor id, but that visitor has no web session that "
        "started at or before the call: the call is a touchpoint of its own.",
        NO_VISITOR_ID: "The call record carries no visitor id, so it cannot be tied to a web "
        "session and makes no touchpoint: check that the call-tracking script reads the "
        "visitor cookie.",
        AMBIGUOUS: "The call rang a pool number that more than one visitor held within the "
        "pool's hold before the call: it cannot be told whose it is, so it makes no "
        "touchpoint. A larger pool makes this rarer (`touchpoint report` shows the size).",
    }.get(outcome, outcome)
