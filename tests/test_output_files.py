"""Issue 16, items 3 and 5: files the CRM writes. Personal data goes to
private (0600) files written atomically; a killed backup's leftovers are
cleaned up; ``-o`` never renames over anything that is not a regular file
(devices, FIFOs, ``-`` and symlinks to them are streamed to)."""

import fcntl
import os
import stat
import threading

import pytest

PLUGINS = "segments,exports"

# Every command with -o that writes personal data, as (args before the path, what the output holds).
WRITERS = [
    (["contacts", "export", "-o"], "ada@example.com"),
    (["segments", "dump", "-o"], "ada@example.com"),
    (["export", "mailchimp", "--all", "-o"], "ada@example.com"),
    (["report", "render", "dashboard", "-o"], "<html"),
]


@pytest.fixture
def cli(run_cli):
    def run(args, ok=True):
        result = run_cli(args, plugins=PLUGINS)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run(["init"])
    run(["contacts", "add", "--email", "ada@example.com", "--first-name", "Ada", "--consent"])
    run(["segments", "create", "fair", "--static"])
    run(["segments", "add-members", "fair", "ada@example.com"])
    return run


def leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


@pytest.mark.parametrize("args, holds", WRITERS)
def test_personal_data_files_are_private_and_replaced_atomically(cli, tmp_path, args, holds):
    out = tmp_path / "out.file"
    out.write_text("old")
    os.chmod(out, 0o644)
    cli(args + [str(out)])
    assert holds in out.read_text()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # a new file, not the old 0644 one rewritten
    assert leftovers(tmp_path) == []


def test_backup_removes_partial_copies_killed_runs_left_and_says_so(cli, tmp_path):
    dest = tmp_path / "b.db"
    dead = tmp_path / ".b.db.k1ll3d.partial"
    dead.write_bytes(b"SQLite format 3\x00 a copy of the whole database")
    running = tmp_path / ".b.db.running.partial"  # another backup still writing: it holds its lock
    running.write_bytes(b"in progress")
    fd = os.open(running, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = cli(["backup", str(dest)])
    finally:
        os.close(fd)
    assert "Removed 1 partial backup left by an interrupted run" in result.output
    assert not dead.exists() and running.exists()
    assert leftovers(tmp_path) == [".b.db.running.partial"]


def read_fifo(path, into):
    with open(path, "rb") as f:
        into.append(f.read())


@pytest.mark.parametrize("args, holds", WRITERS + [(["backup"], "SQLite format 3")])
def test_output_to_a_fifo_streams_into_it_and_leaves_it_a_fifo(cli, tmp_path, args, holds):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=read_fifo, args=(fifo, got), daemon=True)
    reader.start()
    result = cli(args + [str(fifo)], ok=False)
    if not got:  # the command never opened the FIFO: unblock the reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(10)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert holds.encode() in got[0]
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root (the case the issue reports)")
@pytest.mark.parametrize("args, holds", WRITERS + [(["backup", "--force"], "")])
def test_output_to_a_device_or_a_link_to_one_never_replaces_it(cli, tmp_path, args, holds):
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    link = tmp_path / "stdout"
    os.symlink(node, link)
    for target in (node, link):
        cli(args + [str(target)])
        assert stat.S_ISCHR(os.stat(node).st_mode) and os.path.islink(link)
    assert leftovers(tmp_path) == []


def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(cli, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "latest.csv"
    os.symlink(real, link)
    cli(["contacts", "export", "-o", str(link)])
    assert os.path.islink(link) and "ada@example.com" in real.read_text()
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600


@pytest.mark.parametrize("args", [["contacts", "export", "-o", "-"], ["export", "mailchimp", "--all", "-o", "-"],
                                  ["segments", "dump", "-o", "-"]])
def test_dash_means_standard_output(cli, tmp_path, args):
    result = cli(args)
    assert "ada@example.com" in result.output
    assert not (tmp_path / "-").exists() and not os.path.exists("-")


@pytest.mark.parametrize("target", ["folder", "socket"])
def test_output_onto_a_folder_or_socket_is_a_one_line_error(cli, tmp_path, target):
    path = tmp_path / target
    if target == "folder":
        path.mkdir()
    else:
        import socket

        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
    result = cli(["contacts", "export", "-o", str(path)], ok=False)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert str(path) in result.output.strip().splitlines()[-1]  # click's usage error for a folder, ours for a socket
