"""The lesson sequence of the kit, as data: one row per notebook in ``lessons/``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    """One lesson: its number, notebook file, title, the question it answers, the models it uses."""

    number: str
    notebook: str
    title: str
    question: str
    models: str


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "00",
        "00_the_outage.ipynb",
        "The outage",
        "What happened, when, to whom? How do I use this kit?",
        "the sourced data",
    ),
    Lesson(
        "01",
        "01_queues_and_latency.ipynb",
        "Queues and latency",
        "Why does latency explode near full load? How many servers does a service need?",
        "M/M/1, M/M/c (Erlang C), M/M/c/K, Little's law",
    ),
    Lesson(
        "02",
        "02_timeouts_and_retries.ipynb",
        "Timeouts and retries",
        "How do timeouts and retries turn a slow service into a dead one?",
        "request-level simulation, retry policies",
    ),
    Lesson(
        "03",
        "03_the_service_graph.ipynb",
        "The service graph",
        "Which services depend on which, and why was Skype for Business safe?",
        "service dependency graph, load propagation, retries across layers; "
        "Motter–Lai and Buldyrev cascades",
    ),
    Lesson(
        "04",
        "04_the_bad_push.ipynb",
        "The bad push",
        "How many clients did one configuration push knock off?",
        "client version mix, rollout waves",
    ),
    Lesson(
        "05",
        "05_the_reconnection_storm.ipynb",
        "The reconnection storm",
        "What happens when millions of clients reconnect at once?",
        "population model",
    ),
    Lesson(
        "06",
        "06_the_cascade_step_by_step.ipynb",
        "The cascade, step by step",
        "The whole day replayed: how did the overload spread?",
        "storm model on the graph",
    ),
    Lesson(
        "07",
        "07_stuck_metastability_and_recovery.ipynb",
        "Stuck: metastability",
        "Why did it not recover by itself, and what brought it back?",
        "metastability, hysteresis",
    ),
    Lesson(
        "08",
        "08_mitigations_lab.ipynb",
        "Mitigations lab",
        "Which defences would have prevented it?",
        "all models, a scorecard",
    ),
    Lesson(
        "09",
        "09_postmortem_and_beyond.ipynb",
        "Postmortem and beyond",
        "Write the postmortem; does the kit explain other incidents?",
        "calibrated scenarios",
    ),
)


def lesson_table():
    """The lesson map as a pandas DataFrame, one row per lesson.

    Examples
    --------
    >>> table = lesson_table()
    >>> table.loc[0, "notebook"], len(table)
    ('00_the_outage.ipynb', 10)
    """
    import pandas as pd

    return pd.DataFrame([lesson.__dict__ for lesson in LESSONS])
