"""A throwaway virtual environment layered on the test run's own, so a test
can ``pip install -e`` a plugin for real without touching the environment
that runs the rest of the suite. Creating it takes a few milliseconds (no pip
copy: the parent's pip, setuptools and crmcore are visible through a .pth)."""

import os
import site
import subprocess
import sys
import sysconfig


def layered_venv(path):
    """Create a venv at ``path`` that also sees the current environment; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = os.path.join(str(path), "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    parents = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if os.path.isdir(p)]
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in dict.fromkeys(parents))
    with open(os.path.join(purelib, "_parent_env.pth"), "w") as f:
        f.write(lines)
    return python


def pip_install_editable(python, project):
    """``pip install -e PROJECT`` offline (the dependencies are already there)."""
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation", "--disable-pip-version-check", "-e", str(project)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip install -e {project} failed:\n{result.stdout}\n{result.stderr}"
    return result


def run_crm(python, args, db, env=None, cwd=None):
    """The ``crm`` command of that environment (what a user types after installing)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("CRM_LOAD_PLUGINS", "CRM_DB", "CRM_TEMPLATES", "PYTHONPATH")}
    full_env.update(env or {})
    return subprocess.run([python, "-c", "from crmcore.cli import main; main()", "--db", str(db), *args],
                          capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def run_pytest(python, path, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_LOAD_PLUGINS", "CRM_DB", "PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                          capture_output=True, text=True, env=env, cwd=str(cwd), timeout=300)
