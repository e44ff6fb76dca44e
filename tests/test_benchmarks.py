"""The benchmark suite runs end to end: every script, every workload of the
Benchmarks issue, one row shape. A smoke run at the tiny scale; nothing here
is timed, the figures come from `benchmarks/run.py --scale full`."""

import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
KEYS = {"workload", "size", "ours_s", "baseline_s", "baseline", "ratio", "target", "script"}


def test_run_py_runs_every_benchmark_and_reports_every_workload_as_a_ratio(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    proc = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "run.py"), "--scale", "tiny", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["scale"] == "tiny" and report["machine"]["cpus"]
    rows = report["results"]

    scripts = {os.path.basename(p) for p in glob.glob(os.path.join(BENCHMARKS, "bench_*.py"))}
    assert {r["script"] for r in rows} == scripts  # none failed or printed nothing

    for r in rows:
        assert set(r) == KEYS, r["workload"]
        assert r["ours_s"] > 0 and r["target"], r["workload"]
        if r["baseline_s"] is None:  # a peer that cannot run here says why
            assert r["ratio"] is None and r["baseline"].startswith("peer unavailable: "), r["workload"]
        else:
            assert r["baseline_s"] > 0 and abs(r["ratio"] - r["ours_s"] / r["baseline_s"]) < 1e-9, r["workload"]

    by_name = {r["workload"]: r for r in rows}
    issue = {  # the Benchmarks issue's workloads, with its targets
        "contact import": ">= 50% of baseline rows/s (<= 2.0x)",
        "contact re-import (all updates)": ">= 50% of baseline rows/s (<= 2.0x)",
        "import with a no-op records-saved hook": "within 5% (<= 1.05x)",
        "RFM scores, every customer": "<= 1.2x (and <= 10 s)",
        "RFM vs lifetimes summary_data_from_transaction_data": "< 1.0x (faster, its loading included)",
        'refresh country == "DE" and total_spent > 500, first': "<= 1 s",
        "dashboard report, all plugins": "rendered in at most a few seconds",
        "crm export google-customer-match --all": "close to the raw hashing rate (report the ratio)",
        "CLI start (crm --help, all plugins)": "<= 2.0x",
        "service import-mail, Maildir": "report the ratio (mails/s)",
        "service list --breached": "<= 1 s",
    }
    for workload, target in issue.items():
        assert by_name[workload]["target"] == target


def test_run_py_refuses_an_unknown_benchmark_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "run.py"), "--only", "nosuch"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "nosuch" in proc.stderr and "import" in proc.stderr and "Traceback" not in proc.stderr


def _saved_run(path, ratios, scale="small"):
    rows = [{"workload": name, "size": "10 contacts", "ours_s": 1.0, "baseline_s": None if r is None else 1.0 / r,
             "baseline": "x", "ratio": r, "target": "t", "script": "bench_x.py"} for name, r in ratios.items()]
    path.write_text(json.dumps({"scale": scale, "machine": {}, "results": rows}))
    return str(path)


def _compare(tmp_path, old, new):
    return subprocess.run([sys.executable, os.path.join(BENCHMARKS, "run.py"), "--compare", old, "--against", new],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)


def test_compare_fails_on_a_ratio_more_than_25_percent_worse_and_names_it(tmp_path):
    old = _saved_run(tmp_path / "old.json", {"import": 1.00, "export": 2.00, "rfm": 0.50, "gone": 1.0, "peer": None})
    new = _saved_run(tmp_path / "new.json", {"import": 1.20, "export": 2.60, "rfm": 0.40, "added": 3.0, "peer": None})
    proc = _compare(tmp_path, old, new)
    assert proc.returncode == 1, proc.stderr
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines()}
    assert "was    1.00x  now    1.20x  +20%" in lines["import"] and "WORSE" not in lines["import"]
    assert "+30%" in lines["export"] and "WORSE" in lines["export"]  # 2.60 / 2.00 = 1.30
    assert "-20%" in lines["rfm"] and "WORSE" not in lines["rfm"]
    assert "new workload" in lines["added"] and "not in this run" in lines["gone"]
    assert "no ratio" in lines["peer"]
    assert proc.stderr.strip() == "1 workload(s) more than 25% worse: export"


def test_compare_passes_when_nothing_got_more_than_25_percent_worse(tmp_path):
    old = _saved_run(tmp_path / "old.json", {"import": 1.00, "export": 2.00})
    new = _saved_run(tmp_path / "new.json", {"import": 1.25, "export": 1.00})
    proc = _compare(tmp_path, old, new)
    assert proc.returncode == 0, proc.stderr
    assert "+25%" in proc.stdout and "-50%" in proc.stdout and "WORSE" not in proc.stdout


def test_compare_refuses_a_file_that_is_not_a_saved_run_in_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    proc = _compare(tmp_path, str(bad), str(bad))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"--compare: {bad} is not a run saved by benchmarks/run.py --json"
