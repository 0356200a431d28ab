"""Mutation testing: run mutmut over the modules that decide a patient's schedule, print the score per module.

    .venv/bin/python tools/mutation.py            # run every module, then print the scores (make mutation)
    .venv/bin/python tools/mutation.py engine     # one module: engine, access, ical, subscriptions, services
    .venv/bin/python tools/mutation.py --report   # print the last run's scores without running anything

mutmut copies the project, makes one small change at a time (a `>` that becomes `>=`, a `+= 1` that becomes
`= 1`, ...) and runs the tests that reach the changed function. A mutant that no test notices "survived":
either a test is missing, or the change does not alter behaviour (an equivalent mutant, listed with its
reason in docs/mutation-survivors.md). Score = killed / (killed + survived + no test reaches it).

Each module runs in its own folder (.mutation/<module>/, links to the project plus a pyproject.toml whose
[tool.mutmut] names that module and its test files only), so a run stays affordable on two busy cores and
one module's results survive another module's run. mutmut does not mutate decorated functions, so the
services and feed writes open `with transaction.atomic():` inside the function instead of the decorator.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")

# Tests of feeds/answers.py and feeds/fetchlog.py, deselected (-k) where a module's score is about something else.
FEED_MACHINERY = (
    "not (rate_limit or redis or fetches or stale_answer or answers_from_memory or never_logged or history_page"
    " or is_404_for_anyone or needs_sign_in or takes_effect_at_once or other_methods or last_fetched)"
)
# module name -> (source file, the tests that speak for it (pytest arguments), the score issue 16 asks for)
MODULES = {
    "engine": ("schedules/engine.py", ["tests/test_engine.py"], 95),
    "access": ("patients/access.py", ["tests/test_access.py", "tests/test_access_matrix.py"], 95),
    # What a feed holds: test_feeds (English) and the Spanish feeds, less the tests of the fetch machinery around
    # it (rate limits, Redis answers, fetch counts, log lines, who may download): they never fail for a wrong
    # event, and a surviving mutant of a function every fetch reaches would wait for all of them.
    "ical": (
        "feeds/ical.py",
        ["tests/test_feeds.py",
         "tests/test_spanish.py::test_a_spanish_discreet_feed_carries_no_patient_identifier_and_no_drug_name",
         "tests/test_spanish.py::test_a_spanish_detailed_feed_speaks_spanish_and_keeps_english_uids_apart",
         "-k", FEED_MACHINERY],
        85,
    ),
    # Managing links (test_subscriptions), and of test_feeds the tests of what a link answers once it is stopped,
    # replaced, its caregiver's access ends, or the patient's feed settings change; the language a link keeps.
    "subscriptions": (
        "feeds/subscriptions.py",
        ["tests/test_subscriptions.py", "tests/test_feeds.py",
         "tests/test_spanish.py::test_the_calendar_link_form_keeps_the_chosen_language", "-k",
         "test_subscriptions or stopped or replaced or caregivers_link or unknown_and_malformed or takes_effect_at_once"
         " or chooses_the_title or chosen_language"],
        85,
    ),
    "services": (
        "schedules/services.py",
        # The service tests, and the staff pages that call each write (fills, holds, ends, patients, settings),
        # the closure marking's proof;
        # of test_promises those about schedules (its logging test cannot run under mutmut's captured output).
        # (test_calendar, pure functions of the engine, reaches none of it.)
        ["tests/test_schedule_services.py", "tests/test_staff_fills.py", "tests/test_staff_holds.py",
         "tests/test_staff_patients.py", "tests/test_staff_settings.py", "tests/test_closure_marking.py",
         *(f"tests/test_promises.py::test_{name}" for name in (
             "removing_a_closure_puts_the_fill_back_on_its_day",
             "the_clinics_tolerance_setting_decides_what_is_flagged", "saving_in_the_admin_recomputes",
             "refresh_schedules_rolls_the_horizon_forward_once_a_day"))],
        85,
    ),
}
# What a test run needs besides the mutated module's own folder (copied by mutmut as source_paths).
PROJECT = ["pumpcare", "patients", "schedules", "clinic", "portal", "feeds", "notices", "templates", "static", "locale",
           "tests", "manage.py", "docs", "README.md"]

# mutmut's exit codes (mutmut/stats.py): 1 and 3 are a failing test run, 0 a passing one.
KILLED = {1, 3}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, -24, 24, 152, 255}


def prefix(name: str) -> str:
    return MODULES[name][0].removesuffix(".py").replace("/", ".") + "."


def workdir(name: str) -> Path:
    """.mutation/<name>/: the project linked in, and pyproject.toml with this module's [tool.mutmut]."""
    source, tests, _target = MODULES[name]
    folder = WORK / name
    folder.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT:
        link = folder / entry
        if (ROOT / entry).exists() and not link.is_symlink():
            link.symlink_to(ROOT / entry)
    package = source.split("/")[0]
    pyproject = (ROOT / "pyproject.toml").read_text()
    also_copy = [f"{e}/" if (ROOT / e).is_dir() else e for e in PROJECT if e not in (package, "tests")]
    table = (
        "[tool.mutmut]\n"
        f"source_paths = [{package + '/'!r}]\n"
        f"only_mutate = [{source!r}]\n"
        f"also_copy = {also_copy!r}\n"
        f"pytest_add_cli_args_test_selection = {tests!r}\n"
    ).replace("'", '"')
    # The project's [tool.mutmut] holds what every module shares; the module's own keys go first.
    pyproject = re.sub(r"^\[tool\.mutmut\]\n(also_copy = \[.*?\]\n)?", table, pyproject, flags=re.M | re.S)
    (folder / "pyproject.toml").write_text(pyproject)
    return folder


def run(name: str, children: int) -> float:
    folder = workdir(name)
    started = time.monotonic()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # mutmut draws a progress spinner per mutant; the summary printed below is what matters.
    with (folder / "mutmut.log").open("w") as log:
        subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
            [str(MUTMUT), "run", "--max-children", str(children)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.monotonic() - started


def results(name: str) -> tuple[Counter, list[str]]:
    meta = WORK / name / "mutants" / (MODULES[name][0] + ".meta")
    counts: Counter = Counter()
    survivors: list[str] = []
    if not meta.exists():
        return counts, survivors
    for key, code in sorted(json.loads(meta.read_text())["exit_code_by_key"].items()):
        if not key.startswith(prefix(name)):
            continue
        if code in KILLED or code in TIMEOUT:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            survivors.append(key)
        elif code in NO_TESTS:
            counts["no tests"] += 1
            survivors.append(key + " (no test reaches it)")
        elif code is None:
            counts["not run"] += 1
        else:
            counts["other"] += 1
    return counts, survivors


def report(names: list[str], *, show_survivors: bool) -> bool:
    print(f"{'module':<14} {'mutants':>7} {'killed':>7} {'survived':>9} {'no tests':>9} {'score':>7}  target")
    all_met = True
    for name in names:
        counts, survivors = results(name)
        judged = counts["killed"] + counts["survived"] + counts["no tests"]
        score = 100 * counts["killed"] / judged if judged else 0.0
        target = MODULES[name][2]
        unjudged = counts["not run"] + counts["other"]
        met = judged > 0 and not unjudged and score >= target  # an interrupted run has not met anything yet
        all_met &= met
        extra = f" ({counts['not run']} not run, {counts['other']} other)" if unjudged else ""
        verdict = "ok" if met else "INCOMPLETE" if unjudged else "BELOW"
        print(
            f"{name:<14} {sum(counts.values()):>7} {counts['killed']:>7} {counts['survived']:>9} "
            f"{counts['no tests']:>9} {score:>6.1f}%  >={target}% {verdict}{extra}"
        )
        if show_survivors:
            for key in survivors:
                print(f"    survived: {key}")
    return all_met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules to run (default: all): {', '.join(MODULES)}")
    parser.add_argument("--report", action="store_true", help="print the last run's scores, run nothing")
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once (default 2: both cores)")
    args = parser.parse_args()
    names = args.modules or list(MODULES)
    unknown = set(names) - set(MODULES)
    if unknown:
        parser.error(f"unknown module {', '.join(sorted(unknown))}; choose from {', '.join(MODULES)}")
    if not args.report:
        for name in names:
            seconds = run(name, args.children)
            print(f"mutmut ran {name} in {seconds / 60:.1f} min ({args.children} mutants at a time)", flush=True)
    all_met = report(names, show_survivors=args.survivors)
    print("`cd .mutation/<module> && mutmut show <name>` prints a mutant's diff;")
    print("docs/mutation-survivors.md lists the equivalent ones.")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
