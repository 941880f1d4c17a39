"""What the stages need from the settings, read once per build (stages do no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from touchpoint.channels import ChannelRule, read_rules
from touchpoint.config import Settings

_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class BuildParams:
    session_timeout_us: int
    merge_window_us: int
    merge_anchor: str
    internal_domains: tuple[str, ...]
    channel_rules: tuple[ChannelRule, ...] = ()
    replace_default_channels: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildParams:
        """Read the settings (and the channel rules file they name) for one build."""
        rules_path = settings.channels.rules.strip()
        return cls(
            session_timeout_us=settings.sessions.timeout // _US,
            merge_window_us=settings.merge.window // _US,
            merge_anchor=settings.merge.anchor,
            internal_domains=tuple(d.strip().lower() for d in settings.site.domains if d.strip()),
            channel_rules=read_rules(Path(rules_path)) if rules_path else (),
            replace_default_channels=settings.channels.replace_defaults,
        )
