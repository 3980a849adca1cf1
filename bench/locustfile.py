"""The clinic-day traffic of bench/clinic_day.py: medical assistants, each making about one
request a second: mostly the flow board's 5-second poll, now and then the whole board, the
day's schedule, a patient search and a chart.

Each simulated user signs in through the sign-in form (CSRF token from the form's cookie) as
one of the bench's twelve medical assistants and opens the board, then polls with the
fingerprint of what it shows (the poller sends the board's filters and `fp`), as a browser
does: 204 while nothing changed, the new board (and its fingerprint) when something did, which
on a live board is at least every minute.

Signing in hashes the password (PBKDF2, slow on purpose), and forty people signing in and
opening the board in the same second would swamp a small server, which no clinic does at
10 a.m. So the measured window starts once every user has signed in and opened the board
(reported on their own lines, under that crowd) and lasts BENCH_LOAD_SECONDS; each user starts
at a random moment of its first second so that they do not all hit the server in step."""

import os
import random
import re

import gevent
from gevent.event import Event
from locust import HttpUser, constant_throughput, events, task
from locust.env import Environment

CHART_LINK = re.compile(r'href="(/patients/[0-9a-f-]{36}/)"')
FINGERPRINT = re.compile(r'id="board-fp" name="fp" value="([0-9a-f]+)"')
# Parts of the bench's names (Dayvisitaaa, ...), "first last", and one with a typo.
SEARCHES = ["dayvisitaa", "dayvisitab", "pat dayvisitba", "dayvisitb", "dayvistaac"]
ASSISTANTS = ["alice"] + [f"ma{i:02d}" for i in range(2, 13)]
PASSWORD = "medassist-demo"  # noqa: S105 (the bench population's demo password)
BOARD = "/flow/board/"
SIGN_IN = "sign-in: "  # the requests before the measured window (bench/clinic_day.py)
POLL = {"HX-Request": "true", "X-Medassist-Poll": "1"}
# What the poller sends besides the fingerprint (hx-include="#board-filters, #board-fp").
FILTERS = {"clinic": "north", "provider": "", "ma": "", "finished": "1"}

everyone_in = Event()
signed_in = 0


@events.test_start.add_listener
def reset(environment: Environment, **_: object) -> None:
    global signed_in
    signed_in = 0
    everyone_in.clear()


def start_window(environment: Environment) -> None:
    """Everyone is signed in: measure from now for BENCH_LOAD_SECONDS, then stop."""
    assert environment.runner is not None
    environment.stats.total.reset()  # the aggregate covers the window, not the sign-in
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
    gevent.spawn_later(seconds, environment.runner.quit)
    everyone_in.set()


class MedicalAssistant(HttpUser):
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        global signed_in
        self.charts: list[str] = []
        self.fp = ""
        self.sign_in(ASSISTANTS[signed_in % len(ASSISTANTS)])
        self.keep_fingerprint(self.client.get(BOARD, name=f"{SIGN_IN}flow board").text)
        signed_in += 1
        assert self.environment.runner is not None
        if signed_in >= self.environment.runner.target_user_count:
            start_window(self.environment)
        everyone_in.wait()
        gevent.sleep(random.random())  # noqa: S311 (spreads the users' first requests)

    def sign_in(self, username: str) -> None:
        self.client.get("/account/login/", name=f"{SIGN_IN}form")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/account/login/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": self.host + "/account/login/"},
            name=f"{SIGN_IN}post",
            catch_response=True,
        ) as response:
            if not response.history:  # signed in is a redirect; a 200 is the form again
                response.failure(f"{username} was not signed in ({response.status_code})")

    def keep_fingerprint(self, html: str) -> None:
        found = FINGERPRINT.search(html)
        if found:
            self.fp = found.group(1)

    @task(6)
    def poll_board(self) -> None:
        response = self.client.get(
            BOARD, params=FILTERS | {"fp": self.fp}, headers=POLL, name="flow board (poll)"
        )
        if response.status_code == 200:
            self.keep_fingerprint(response.text)

    @task(1)
    def open_board(self) -> None:
        self.keep_fingerprint(self.client.get(BOARD, name="flow board").text)

    @task(1)
    def schedule(self) -> None:
        self.client.get("/schedule/", name="schedule (day)")

    @task(2)
    def search(self) -> None:
        response = self.client.get(
            "/patients/search/",
            params={"q": random.choice(SEARCHES)},  # noqa: S311 (not for security)
            name="patient search",
        )
        self.charts = CHART_LINK.findall(response.text)[:10] or self.charts

    @task(1)
    def chart(self) -> None:
        if self.charts:
            self.client.get(random.choice(self.charts), name="chart")  # noqa: S311
