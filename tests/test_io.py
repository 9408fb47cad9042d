"""The one output mechanism: regular files atomically, devices, FIFOs and `-` straight, symlinks followed,
anything else an error; outputs that are inputs refused before anything runs."""

from __future__ import annotations

import csv
import os
import pwd
import socket
import stat
import threading
from pathlib import Path

import pytest

from gradtool.io import OutputError, check_outputs, check_writable, open_output, output_target

ROOT = Path(__file__).parent.parent
MINIMIZE = ["minimize", "x^2 + y^2", "--x0", "1,1", "--lr", "0.1", "--steps", "5", "-q"]
EXPECTED_ROWS = 1 + 1 + 5  # header, x0, one row per step


def device(tmp_path: Path, like: str) -> Path:
    """A character device node in ``tmp_path`` with the numbers of ``like`` (/dev/null, /dev/full): tests
    never write to the real ones as root, where a regression would replace them."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp_path / Path(like).name
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.stat(like).st_rdev)
        os.close(os.open(node, os.O_WRONLY))
    except OSError as exc:  # a file system mounted nodev, a container without CAP_MKNOD
        pytest.skip(f"cannot use a device node here: {exc.strerror}")
    return node


def trajectory_rows(text: str) -> list[list[str]]:
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["step", "x", "y", "f", "grad_norm", "lr"] and len(rows) == EXPECTED_ROWS
    assert [int(r[0]) for r in rows[1:]] == list(range(EXPECTED_ROWS - 1))
    return rows


# ---- what each kind of path becomes ----------------------------------------------------------------------


def test_a_regular_file_is_replaced_atomically_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    with open_output(target) as handle:
        handle.write("new\n")
        assert target.read_text() == "old\n"  # the old file stays whole until the new one is complete
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), open_output(target) as handle:
        handle.write("half")
        raise RuntimeError("stop")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_symlink_is_followed_and_stays_a_symlink(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "t.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with open_output(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and os.readlink(link) == str(target) and target.read_text() == "new\n"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["t.csv"]  # the temp file was beside it


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    with open_output(link) as handle:
        handle.write("x\n")
    assert link.is_symlink() and (tmp_path / "new.csv").read_text() == "x\n"


def test_a_fifo_is_written_in_place_while_a_reader_reads_it(tmp_path, invoke):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = invoke(*MINIMIZE, "--trajectory", str(fifo))
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    trajectory_rows(received[0])
    assert stat.S_ISFIFO(fifo.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_character_device_is_written_in_place_and_stays_a_device(tmp_path, invoke):
    null = device(tmp_path, "/dev/null")
    for option in ("--trajectory", "--plot"):
        result = invoke(*MINIMIZE, option, str(null))
        assert result.exit_code == 0, result.output
        assert stat.S_ISCHR(null.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["null"]


def test_dev_null_works_for_a_normal_user(invoke):
    """`--trajectory /dev/null` used to fail ("folder /dev is not writable") for everyone but root."""
    args = [*MINIMIZE, "--trajectory", "/dev/null"]
    if os.geteuid() != 0:
        result = invoke(*args)
        assert result.exit_code == 0 and "summary" in result.stdout, result.output
        return
    invoke(*MINIMIZE)  # import everything the command needs while the interpreter's files are readable
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child drops root and runs the command; a normal user cannot replace /dev/null
        code = 99
        try:
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            result = invoke(*args)
            os.write(write, (result.stdout + result.stderr).encode())
            code = result.exit_code
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    output = os.read(read, 1 << 16).decode()
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert "summary" in output and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dash_streams_to_stdout_and_moves_the_report_to_stderr(invoke):
    result = invoke(*MINIMIZE, "--trajectory", "-")
    assert result.exit_code == 0
    trajectory_rows(result.stdout)
    assert "summary" in result.stderr


def test_what_cannot_be_an_output_is_one_clear_error(tmp_path, invoke):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases = {"folder": (tmp_path, "it is a folder"), "socket": (tmp_path / "sock", "it is a socket")}
    cases["symlink loop"] = (tmp_path / "loop", "Too many levels of symbolic links")
    cases["missing folder"] = (tmp_path / "no" / "t.csv", "folder")
    for what, (path, message) in cases.items():
        with pytest.raises(OutputError, match=message):
            check_writable(path)
        result = invoke(*MINIMIZE, "--trajectory", str(path))
        assert result.exit_code == 2 and result.stderr.startswith("error: cannot write") and message in result.stderr
        assert result.stdout == "", what
    server.close()


def test_output_target_kinds(tmp_path):
    assert output_target("-") == ("stdout", "-")
    assert output_target(tmp_path / "new.csv") == ("file", str(tmp_path / "new.csv"))
    os.mkfifo(tmp_path / "f")
    assert output_target(tmp_path / "f")[0] == "stream"


# ---- outputs that are inputs, and outputs that clash --------------------------------------------------------


def test_an_output_that_is_an_input_is_refused_through_links(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n")
    os.link(data, tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to(data)
    reads = [("the --data file", str(data))]
    for name in ("data.csv", "hard.csv", "soft.csv"):
        with pytest.raises(OutputError, match=f"--save: cannot write .*{name}: it is the --data file"):
            check_outputs([("--save", str(tmp_path / name))], reads)
    check_outputs([("--save", str(tmp_path / "other.csv"))], reads)  # a new file is fine
    assert data.read_text() == "x,y\n1,2\n"


def test_two_outputs_on_one_file_or_on_stdout_are_refused_but_devices_may_repeat(tmp_path):
    same = [("--trajectory", str(tmp_path / "a.csv")), ("--plot", str(tmp_path / "." / "a.csv"))]
    with pytest.raises(OutputError, match="--trajectory and --plot both write"):
        check_outputs(same)
    with pytest.raises(OutputError, match="both write to stdout"):
        check_outputs([("--trajectory", "-"), ("--plot", "-")])
    os.mkfifo(tmp_path / "f")
    check_outputs([("--trajectory", str(tmp_path / "f")), ("--plot", str(tmp_path / "f"))])


def test_fit_refuses_to_overwrite_its_own_data(tmp_path, invoke):
    data = tmp_path / "lin.csv"
    data.write_bytes((ROOT / "data" / "linear.csv").read_bytes())
    before = data.read_bytes()
    fit = ["fit", "w*x + b", "--data", str(data), "--target", "y"]
    for extra in (["--save", str(data)], ["--predict", str(data), "--output", str(data)], ["--plot", str(data)]):
        result = invoke(*fit, *extra)
        assert result.exit_code == 2 and "which this command reads" in result.stderr, result.output
    (tmp_path / "m.npz").write_bytes(b"")
    result = invoke("predict", str(tmp_path / "m.npz"), "--data", str(data), "--output", str(tmp_path / "m.npz"))
    assert result.exit_code == 2 and "it is the model file" in result.stderr
    assert data.read_bytes() == before


def test_json_and_an_output_on_stdout_exclude_each_other(invoke):
    result = invoke(*MINIMIZE, "--trajectory", "-", "--json")
    assert result.exit_code == 2 and "--json and --trajectory - both want stdout" in result.stderr


# ---- write failures --------------------------------------------------------------------------------------


def test_a_full_device_is_one_error_line_exit_2_and_no_file(tmp_path, invoke):
    full = device(tmp_path, "/dev/full")
    for option in ("--trajectory", "--plot"):
        result = invoke(*MINIMIZE, option, str(full))
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: cannot write {full}: No space left on device\n"
        assert stat.S_ISCHR(full.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["full"]


def test_a_full_device_fails_every_kind_of_output_in_one_line(tmp_path, invoke):
    full = device(tmp_path, "/dev/full")
    linear = str(ROOT / "data" / "linear.csv")
    fit = ["fit", "w*x + b", "--data", linear, "--target", "y", "--epochs", "3", "-q"]
    config = tmp_path / "c.yaml"
    config.write_text(f"function: x^2\noptimizer: gd\nsteps: 3\noutput: {{json: {full}}}\n")
    commands = {
        "--save": [*fit, "--save", str(full)],
        "--output": [*fit, "--predict", linear, "--output", str(full)],
        "output.json": ["run", str(config), "-q"],
        "check-grad --plot": ["check-grad", "sin(x)", "--at", "1", "--sweep-h", "--plot", str(full)],
    }
    for what, args in commands.items():
        result = invoke(*args)
        assert result.exit_code == 2, (what, result.output)
        assert result.stderr == f"error: cannot write {full}: No space left on device\n", what
    assert stat.S_ISCHR(full.stat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "full"]


def test_captured_outputs_stay_in_memory_until_written_as_they_would_have_been(tmp_path):
    from gradtool.io import capture_outputs, write_captured

    text, data = tmp_path / "a.csv", tmp_path / "b.npz"
    with capture_outputs() as files:
        with open_output(text) as handle:
            handle.write("step,x\r\n0,1\n")
        with open_output(data, "wb") as handle:
            handle.write(b"\x00\x01")
        with pytest.raises(RuntimeError), open_output(tmp_path / "failed.csv") as handle:
            handle.write("half")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []  # nothing on disk inside the block
    assert files == {str(text): ("w", "step,x\r\n0,1\n"), str(data): ("wb", b"\x00\x01")}
    write_captured(files)
    assert text.read_bytes() == b"step,x\r\n0,1\n" and data.read_bytes() == b"\x00\x01"
    with open_output(tmp_path / "after.csv") as handle:  # outside the block: files again
        handle.write("x\n")
    assert (tmp_path / "after.csv").read_text() == "x\n"
