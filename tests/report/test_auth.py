"""Sign-in to the dashboard and the API (DESIGN §16), against a real `touchpoint serve`.

Wrong tokens are throttled per client (an IPv6 client per /64), the session
cookie expires on the server, sign-out ends the session on the server (even
across a restart) and needs a same-origin POST, redirects stay on the server,
and a short `[server] token` keeps serve from starting. The server trusts
`X-Forwarded-For` from 127.0.0.1 (`[server] forwarded_allow_ips`' default), so
each test speaks as clients of its own.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.collector_server import Server, clean_env, free_port, start
from touchpoint.report.auth import FailedSignIns, SignedOut

TOKEN = "auth-test-token-0123456789abcdef"
SUMMARY = "/api/summary"  # 503 before the first build: past the token check


def write_settings(directory: Path, *lines: str) -> None:
    settings = ["[server]", f'token = "{TOKEN}"', *lines]
    (directory / "touchpoint.toml").write_text("\n".join(settings) + "\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("auth")
    write_settings(directory)
    running = start(directory)
    yield running
    running.stop()


def as_client(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


def passed_the_gate(answer: httpx.Response) -> bool:
    return answer.status_code == 503 and "nothing has been built yet" in answer.json()["error"]


def signed_in_cookie(server: Server, address: str = "198.51.100.20") -> str:
    answer = httpx.post(f"{server.url}/login", data={"token": TOKEN}, headers=as_client(address))
    assert answer.status_code == 303, answer.text
    return answer.cookies["tp_dashboard"]


def with_cookie(server: Server, cookie: str, path: str = SUMMARY) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", cookies={"tp_dashboard": cookie})


# -- throttling ---------------------------------------------------------------------


def test_eleven_wrong_bearer_tokens_get_429_and_then_even_the_right_one_waits(server):
    client = as_client("203.0.113.11")
    statuses = [
        httpx.get(
            server.url + SUMMARY, headers={**client, "Authorization": f"Bearer wrong-{n:030d}"}
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    right = httpx.get(server.url + SUMMARY, headers={**client, "Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 61
    # Another client is not held back by this one's failures.
    other = httpx.get(
        server.url + SUMMARY, headers=as_client("203.0.113.12", Authorization=f"Bearer {TOKEN}")
    )
    assert passed_the_gate(other)


def test_the_login_form_and_bearer_tokens_count_together(server):
    client = as_client("203.0.113.21")
    for n in range(5):
        form = httpx.post(f"{server.url}/login", data={"token": f"no-{n}"}, headers=client)
        assert form.status_code == 401 and "not the token" in form.text
    for n in range(5):
        bearer = httpx.get(
            server.url + SUMMARY, headers={**client, "Authorization": f"Bearer no-{n}"}
        )
        assert bearer.status_code == 401
    throttled = httpx.post(f"{server.url}/login", data={"token": TOKEN}, headers=client)
    assert throttled.status_code == 429
    assert "Too many wrong tokens" in throttled.text and "tp_dashboard" not in throttled.cookies
    assert int(throttled.headers["retry-after"]) >= 1


def test_ipv6_clients_count_by_their_64(server):
    for n in range(10):
        host = f"2001:db8:77:1::{n + 1:x}"
        answer = httpx.get(
            server.url + SUMMARY, headers=as_client(host, Authorization="Bearer guess")
        )
        assert answer.status_code == 401
    neighbour = as_client("2001:db8:77:1:ffff::9", Authorization="Bearer guess")
    assert httpx.get(server.url + SUMMARY, headers=neighbour).status_code == 429
    elsewhere = as_client("2001:db8:77:2::1", Authorization="Bearer guess")
    assert httpx.get(server.url + SUMMARY, headers=elsewhere).status_code == 401


def test_a_token_shorter_than_24_characters_is_a_failure(server):
    client = as_client("203.0.113.31")
    short = TOKEN[:23]
    answer = httpx.get(server.url + SUMMARY, headers={**client, "Authorization": f"Bearer {short}"})
    assert answer.status_code == 401
    form = httpx.post(f"{server.url}/login", data={"token": short}, headers=client)
    assert form.status_code == 401


# -- the session cookie -------------------------------------------------------------


def test_a_cookie_works_until_sign_out_and_never_after(server):
    cookie = signed_in_cookie(server)
    assert passed_the_gate(with_cookie(server, cookie))
    assert with_cookie(server, cookie, "/").status_code == 200
    answer = httpx.post(
        f"{server.url}/logout",
        cookies={"tp_dashboard": cookie},
        headers={"Origin": server.url},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    # The browser forgets the cookie, and the server refuses it if it comes back.
    assert with_cookie(server, cookie).status_code == 401
    assert with_cookie(server, cookie, "/").status_code == 401


def test_a_forged_or_altered_cookie_is_refused(server):
    cookie = signed_in_cookie(server)
    issued, session, mac = cookie.split(".")
    for forged in (
        f"{int(issued) + 3600}.{session}.{mac}",  # a later issue time, to live longer
        f"{issued}.{session}x.{mac}",
        f"{issued}.{session}.{mac[:-1]}0",
        "forged",
        "",
    ):
        assert with_cookie(server, forged).status_code == 401, forged


def test_sign_out_needs_a_post_from_one_of_the_servers_own_pages(server):
    cookie = signed_in_cookie(server)
    cookies = {"tp_dashboard": cookie}
    cross_site = httpx.post(
        f"{server.url}/logout", cookies=cookies, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    referred = httpx.post(
        f"{server.url}/logout",
        cookies=cookies,
        headers={"Referer": "https://evil.example/page"},
    )
    assert referred.status_code == 403
    assert httpx.post(f"{server.url}/logout", cookies=cookies).status_code == 403
    assert httpx.get(f"{server.url}/logout", cookies=cookies).status_code == 405
    assert passed_the_gate(with_cookie(server, cookie))
    # From a page of this server (a Referer, when the browser sends no Origin): signed out.
    same_site = httpx.post(
        f"{server.url}/logout", cookies=cookies, headers={"Referer": f"{server.url}/?model=linear"}
    )
    assert same_site.status_code == 303
    assert with_cookie(server, cookie).status_code == 401


def test_sign_out_outlives_a_restart_and_other_sessions_survive_it(tmp_path):
    write_settings(tmp_path)
    first = start(tmp_path)
    try:
        kept, ended = signed_in_cookie(first), signed_in_cookie(first)
        answer = httpx.post(
            f"{first.url}/logout", cookies={"tp_dashboard": ended}, headers={"Origin": first.url}
        )
        assert answer.status_code == 303
    finally:
        first.stop()
    again = start(tmp_path)
    try:
        assert passed_the_gate(with_cookie(again, kept))
        assert with_cookie(again, ended).status_code == 401
    finally:
        again.stop()


def test_a_cookie_older_than_session_ttl_is_refused(tmp_path):
    write_settings(tmp_path, 'session_ttl = "2s"')
    served = start(tmp_path)
    try:
        answer = httpx.post(f"{served.url}/login", data={"token": TOKEN})
        cookie = answer.cookies["tp_dashboard"]
        assert "max-age=2" in answer.headers["set-cookie"].lower()
        assert passed_the_gate(with_cookie(served, cookie))
        time.sleep(3.2)
        assert with_cookie(served, cookie).status_code == 401
    finally:
        served.stop()


# -- redirects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "lands_on"),
    [
        ("//evil.example", "/"),
        ("//evil.example/?model=linear", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/?model=linear", "/?model=linear"),
    ],
)
def test_after_sign_in_the_browser_stays_on_this_server(server, target, lands_on):
    answer = httpx.post(
        f"{server.url}/login",
        data={"token": TOKEN, "next": target},
        headers=as_client("198.51.100.41"),
    )
    assert (answer.status_code, answer.headers["location"]) == (303, lands_on)
    cookie = answer.cookies["tp_dashboard"]
    signed_in = httpx.get(
        f"{server.url}/login", params={"next": target}, cookies={"tp_dashboard": cookie}
    )
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, lands_on)


def test_the_sign_in_form_comes_back_to_the_page_asked_for(server):
    page = httpx.get(f"{server.url}/?model=linear&from=2026-03-01")
    assert page.status_code == 401
    assert 'name="next" value="/?model=linear&amp;from=2026-03-01"' in page.text
    hostile = httpx.get(f"{server.url}/login", params={"next": '//evil.example/"><script>'})
    assert 'name="next" value="/"' in hostile.text


def test_no_redirect_takes_its_host_from_the_request(server):
    for path in ("/api", "/login?next=/", "/"):
        answer = httpx.get(
            server.url + path,
            headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"},
        )
        location = answer.headers.get("location", "")
        assert "evil.example" not in location, (path, location)
        assert not location or location.startswith("/"), (path, location)


# -- the token itself ---------------------------------------------------------------


def test_serve_refuses_a_token_of_23_characters_with_one_line(tmp_path):
    (tmp_path / "touchpoint.toml").write_text('[server]\ntoken = "' + "t" * 23 + '"\n')
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "[server] token is 23 characters; it must be at least 24" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_generated_token_is_long_enough(tmp_path):
    served = start(tmp_path)
    served.stop()
    line = served.log_text().split("token (set [server] token to keep one): ")[1]
    assert len(line.split()[0]) >= 24


# -- the throttle's minute and the sign-out list, on their own clocks ---------------


class Clock:
    def __init__(self, now: float = 1_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_failures_older_than_a_minute_no_longer_count():
    clock = Clock()
    failures = FailedSignIns(clock=clock)
    for _ in range(10):
        failures.failed("203.0.113.9")
        clock.now += 1
    assert failures.wait("203.0.113.9") == pytest.approx(50.0)  # the first is 10 s old
    assert failures.wait("203.0.113.10") == 0
    clock.now += 50
    assert failures.wait("203.0.113.9") == 0
    failures.failed("203.0.113.9")  # one new failure after the first aged out: 9 + 1
    assert failures.wait("203.0.113.9") > 0


def test_the_sign_out_list_forgets_sessions_past_their_expiry(tmp_path):
    clock = Clock()
    path = tmp_path / "touchpoint.duckdb.signed-out"
    signed_out = SignedOut(path, clock=clock)
    for n in range(20):
        signed_out.add(f"session-{n}", clock.now + 10)
    assert SignedOut(path, clock=clock).holds("session-3")
    clock.now += 11
    assert not SignedOut(path, clock=clock).holds("session-3")
    signed_out.add("late", clock.now + 10)
    assert path.read_text().splitlines() == [f"late {clock.now + 10:.0f}"]  # rewritten small
