"""`[[numbers.pools]]`: the tracking-number pools of dynamic number insertion (DESIGN §15).

A pool's numbers are written any way (`(512) 555-0101`, `+1 512 555 0101`) and
kept in E.164, read with `[phone] default_region`: the section cannot see that
setting itself, so `Settings.numbers` is checked and normalised by
`numbers_in_region`, once the `[phone]` section before it is read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from touchpoint.config.durations import OptionalDuration, format_duration, parse_duration
from touchpoint.config.sections import Section
from touchpoint.sources.phones import to_e164

POOL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class NumberPool(Section):
    """One pool: the tracking numbers shown instead of `replace`, one visitor each at a time."""

    name: str = Field(pattern=POOL_NAME, description="The pool's name, unique (e.g. main).")
    numbers: tuple[str, ...] = Field(min_length=1, description="The tracking numbers (E.164).")
    replace: str = Field(min_length=1, description="The business number shown on the site.")
    forward_to: str = Field("", description="Where calls go; empty: `replace`.")
    hold: OptionalDuration = Field(
        "",
        description="How long a visitor keeps a number after its last request; "
        "empty: [sessions] timeout.",
    )
    fallback: str = Field("", description="Shown when every number is held; empty: `replace`.")
    channels: tuple[str, ...] = Field(
        (), description="Only visitors of these channels get a pool number; empty: everyone."
    )

    @field_validator("hold")
    @classmethod
    def _hold_positive(cls, value: str) -> str:
        if value and parse_duration(value) <= timedelta(0):
            raise ValueError(f"hold {value!r} must be longer than 0s")
        return value

    def hold_or(self, timeout: timedelta) -> timedelta:
        """How long a visitor keeps a number: `hold`, or the `[sessions] timeout` given."""
        return parse_duration(self.hold) if self.hold else timeout

    def in_region(self, region: str) -> NumberPool:
        """This pool with every number in E.164 (`forward_to` empty: `replace`)."""

        def e164(key: str, written: str) -> str:
            found = to_e164(written, region)
            if found is None:
                raise ValueError(
                    f"pool {self.name}: {key} {written!r} is not a phone number (write it with "
                    f"+ and the country code, or as dialled in [phone] default_region {region})"
                )
            return found

        numbers = tuple(e164("numbers", n) for n in self.numbers)
        replace = e164("replace", self.replace)
        fallback = e164("fallback", self.fallback) if self.fallback.strip() else ""
        forward_to = e164("forward_to", self.forward_to) if self.forward_to.strip() else replace
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"pool {self.name}: a number is listed twice in numbers")
        if replace in numbers or replace == fallback:
            raise ValueError(f"pool {self.name}: replace {self.replace!r} is also a pool number")
        if fallback in numbers:
            raise ValueError(f"pool {self.name}: fallback {self.fallback!r} is also in numbers")
        return self.model_copy(
            update={
                "numbers": numbers,
                "replace": replace,
                "fallback": fallback,
                "forward_to": forward_to,
            }
        )


class NumbersSettings(Section):
    pools: tuple[NumberPool, ...] = Field(
        (),
        description="Tracking-number pools, each a [[numbers.pools]] table with name, numbers, "
        "replace, forward_to, hold, fallback, channels (docs/dni.md).",
    )

    @field_validator("pools")
    @classmethod
    def _unique_names(cls, pools: tuple[NumberPool, ...]) -> tuple[NumberPool, ...]:
        names = [pool.name for pool in pools]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"pool name {twice[0]!r} is used by more than one pool")
        return pools

    def pool_named(self, name: str) -> NumberPool | None:
        """The pool of that name, or None."""
        return next((pool for pool in self.pools if pool.name == name), None)

    def pool_for_number(self, e164: str) -> NumberPool | None:
        """The pool whose `numbers` or `fallback` hold this E.164 number, or None."""
        for pool in self.pools:
            if e164 in pool.numbers or (pool.fallback and e164 == pool.fallback):
                return pool
        return None

    def in_region(self, region: str) -> NumbersSettings:
        """The pools with every number in E.164 for `region`, each number in one pool only."""
        pools = [pool.in_region(region) for pool in self.pools]
        owner: dict[str, str] = {}
        for pool in pools:
            for number in {*pool.numbers, pool.fallback} - {""}:
                if number in owner and owner[number] != pool.name:
                    raise ValueError(
                        f"number {number} is in pools {owner[number]} and {pool.name}: "
                        "a number may be in one pool only"
                    )
                owner[number] = pool.name
        return self.model_copy(update={"pools": tuple(pools)})


def numbers_in_region(value: NumbersSettings, info: ValidationInfo) -> NumbersSettings:
    """`Settings.numbers` checked and in E.164 for the `[phone] default_region` read before it;
    no hold may outlast `[collector] log_retention`, from which `serve` reads the holds again."""
    phone: Any = info.data.get("phone")
    sessions: Any = info.data.get("sessions")
    collector: Any = info.data.get("collector")
    if sessions is not None and collector is not None:
        for pool in value.pools:
            hold = pool.hold_or(sessions.timeout)
            if hold > collector.log_retention:
                raise ValueError(
                    f"pool {pool.name}: hold {format_duration(hold)} is longer than [collector] "
                    f"log_retention {format_duration(collector.log_retention)}, after which a "
                    "restart forgets the holds"
                )
    return value.in_region(phone.default_region if phone is not None else "US")


# `Settings.numbers`: declared after `phone`, whose region reads the numbers.
NumbersInRegion = Annotated[NumbersSettings, AfterValidator(numbers_in_region)]
