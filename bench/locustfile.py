"""The clinic-day traffic of bench/clinic_day.py: medical assistants signed in as alice, each
making about one request a second: mostly the flow board's 5-second poll, now and then the whole
board, the day's schedule, a patient search and a chart."""

import random
import re

from locust import HttpUser, constant_throughput, task

CHART_LINK = re.compile(r'href="(/patients/[0-9a-f-]{36}/)"')
SEARCHES = ["dayvisit00", "dayvisit01", "pat dayvisit02", "dayvisit1", "dayvist0003"]


class MedicalAssistant(HttpUser):
    wait_time = constant_throughput(1)

    def on_start(self) -> None:
        self.client.get("/account/login/", name="sign in")
        token = self.client.cookies.get("csrftoken", "")
        self.client.post(
            "/account/login/",
            {"username": "alice", "password": "medassist-demo", "csrfmiddlewaretoken": token},
            headers={"Referer": self.host + "/account/login/"},
            name="sign in",
        )
        self.charts: list[str] = []

    @task(6)
    def poll_board(self) -> None:
        self.client.get(
            "/flow/board/",
            headers={"HX-Request": "true", "X-Medassist-Poll": "1"},
            name="flow board (poll)",
        )

    @task(1)
    def open_board(self) -> None:
        self.client.get("/flow/board/", name="flow board")

    @task(1)
    def schedule(self) -> None:
        self.client.get("/schedule/", name="schedule (day)")

    @task(2)
    def search(self) -> None:
        response = self.client.get(
            "/patients/search/", params={"q": random.choice(SEARCHES)}, name="patient search"
        )
        self.charts = CHART_LINK.findall(response.text)[:10] or self.charts

    @task(1)
    def chart(self) -> None:
        if self.charts:
            self.client.get(random.choice(self.charts), name="chart")
