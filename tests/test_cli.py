"""The command line: demo, render, validate, nodes; exit codes and error messages."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mixgraph import load, save

REPORT_KEYS = {"path", "duration_s", "sample_peak_dbfs"}


def mixgraph(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = mixgraph("demo", folder / "d")
    return folder / "d", result


def test_demo_writes_stems_project_and_renders(demo):
    folder, result = demo
    assert result.returncode == 0, result.stderr
    assert "rendered 3 outputs" in result.stdout
    for name in ("kick", "snare", "hats", "bass", "keys", "lead"):
        assert (folder / "stems" / f"{name}.wav").exists()
    mix, sr = sf.read(str(folder / "out" / "mix.wav"))
    drums, _ = sf.read(str(folder / "out" / "drums.wav"))
    assert sr == 48000 and drums.shape == (8 * 48000, 2)     # dry group: the song's length
    assert 8 * 48000 < mix.shape[0] < 12 * 48000             # plus reverb and delay tails
    assert "compressor 'drum_glue'" in result.stdout
    master = sf.info(str(folder / "out" / "master.wav"))
    assert master.subtype == "PCM_16" and master.frames == 8 * 48000    # faded to the end
    from mixgraph.nodes.meters import meter_file
    figures = meter_file(folder / "out" / "master.wav")
    assert figures["integrated_lufs"] == pytest.approx(-14.0, abs=0.1)
    assert figures["true_peak_dbtp"] <= -1.0 + 0.1
    peak = 20 * np.log10(np.max(np.abs(mix)))
    assert -12.0 < peak < 0.0                       # a real, unclipped mix
    assert "Traceback" not in result.stderr


def test_render_json_report_has_the_keys(demo, tmp_path):
    folder, _ = demo
    result = mixgraph("render", folder / "demo.mgraph", "--json", "-o", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["outputs"]) == 3
    for out in report["outputs"]:
        assert REPORT_KEYS <= set(out)
        assert out["duration_s"] >= 8.0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["drums.wav", "master.wav",
                                                                   "mix.wav"]
    for out in report["outputs"]:
        assert {"integrated_lufs", "short_term_max_lufs", "momentary_max_lufs", "lra_lu",
                "true_peak_dbtp", "rms_dbfs", "correlation"} <= set(out)


def test_render_o_file_for_a_single_output(demo, tmp_path):
    folder, _ = demo
    g = load(folder / "demo.mgraph")
    g.remove("drums_out")
    g.remove("master_out")
    save(g, folder / "single.json")
    result = mixgraph("render", folder / "single.json", "-o", tmp_path / "mine.flac")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(tmp_path / "mine.flac")).format == "FLAC"


def test_render_block_sizes_agree_from_the_cli(demo, tmp_path):
    folder, _ = demo
    a = mixgraph("render", folder / "demo.mgraph", "-o", tmp_path / "a", "--block-size", 65)
    b = mixgraph("render", folder / "demo.mgraph", "-o", tmp_path / "b", "--block-size", 8193)
    assert a.returncode == b.returncode == 0
    assert (tmp_path / "a/mix.wav").read_bytes() == (tmp_path / "b/mix.wav").read_bytes()


def test_validate_ok_and_problems(demo, tmp_path):
    folder, _ = demo
    ok = mixgraph("validate", folder / "demo.mgraph")
    assert ok.returncode == 0 and "ok" in ok.stdout
    g = load(folder / "demo.mgraph")
    g.nodes["kick_ch"].params["gain_db"] = 50.0
    g.nodes["snare"].params["path"] = "stems/nope.wav"
    save(g, folder / "broken.json")
    bad = mixgraph("validate", folder / "broken.json")
    assert bad.returncode == 1
    assert "kick_ch" in bad.stderr and "gain_db must be between" in bad.stderr
    assert "nope.wav" in bad.stderr and "2 problems" in bad.stderr
    assert "Traceback" not in bad.stderr
    as_json = json.loads(mixgraph("validate", folder / "broken.json", "--json").stdout)
    assert as_json["ok"] is False and len(as_json["errors"]) == 2


def test_user_errors_are_one_sentence_without_traceback(tmp_path):
    missing = mixgraph("render", tmp_path / "nope.mgraph")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("mixgraph: error: project file not found")
    assert len(missing.stderr.strip().splitlines()) == 1
    garbage = tmp_path / "junk.mgraph"
    garbage.write_bytes(b"\x93\x01\x02")
    result = mixgraph("render", garbage)
    assert result.returncode == 1 and "not a mixgraph project" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = mixgraph("--debug", "render", tmp_path / "nope.mgraph")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_render_refuses_bad_block_size(demo):
    folder, _ = demo
    result = mixgraph("render", folder / "demo.mgraph", "--block-size", 0)
    assert result.returncode == 1 and "block size must be" in result.stderr


def test_nodes_lists_the_catalogue():
    result = mixgraph("nodes")
    assert result.returncode == 0
    for name in ("stem", "channel", "bus", "group", "send", "output"):
        assert name in result.stdout
    detail = mixgraph("nodes", "channel")
    assert "gain_db" in detail.stdout and "between -120 and 24 dB" in detail.stdout
    unknown = mixgraph("nodes", "chanel")
    assert unknown.returncode == 1 and "did you mean channel" in unknown.stderr


def test_help_and_no_command():
    assert mixgraph("--help").returncode == 0
    assert mixgraph().returncode == 2


def test_empty_output_path_is_refused(demo):
    folder, _ = demo
    result = mixgraph("render", folder / "demo.mgraph", "-o", "")
    assert result.returncode == 1 and "-o needs a file or folder" in result.stderr


def test_relative_o_is_taken_from_the_current_folder(demo, tmp_path):
    folder, _ = demo
    result = mixgraph("render", folder / "demo.mgraph", "-o", "renders", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "renders" / "mix.wav").exists()


def on_a_terminal(*args, cwd=None) -> tuple[subprocess.CompletedProcess, str]:
    """Run mixgraph with stderr on a pseudo-terminal (so the progress bar draws);
    returns the result (stdout captured) and what the terminal received."""
    import os
    import pty
    import threading

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    received: list[bytes] = []

    def pump():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:                  # the other end closed
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=pump)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        reader.join(timeout=10)
        os.close(master)
    return (subprocess.CompletedProcess(proc.args, proc.returncode, out, ""),
            b"".join(received).decode(errors="replace"))


def test_progress_bar_of_a_two_pass_render_agrees_with_the_summary(tmp_path):
    """Issue 17: with a loudness stage (an analysis pass, then the render), the bar
    counted both passes as song: a 40 s song showed 80 s and twice the speed the
    summary gave.  It names the pass, never shows more than the song, and ends at
    the song's length and the summary's speed."""
    seconds = 60
    noise = 0.1 * np.random.default_rng(3).standard_normal(seconds * 48000)
    sf.write(str(tmp_path / "a.wav"), noise, 48000, subtype="FLOAT")
    from mixgraph import Graph

    g = Graph(sample_rate=48000, base_dir=tmp_path)
    g.add("stem", id="a", path="a.wav")
    g.add("compressor", id="comp")
    g.add("loudness", id="loud", target_lufs=-16.0)
    g.add("output", id="out", path="out.wav")
    for a, b in (("a", "comp"), ("comp", "loud"), ("loud", "out")):
        g.connect(a, b)
    save(g, tmp_path / "song.mgraph")
    # small blocks: slow enough (a few seconds) for the bar to show both passes, with
    # no kernel compiling in them (the command compiles those missing first)
    result, terminal = on_a_terminal("render", tmp_path / "song.mgraph", "--json", "-j", 1,
                                     "--block-size", 32)
    assert result.returncode == 0, terminal
    summary = json.loads(result.stdout)["render"]
    lines = [part.strip() for part in terminal.split("\r") if "%" in part]
    assert any(line.startswith("analysis 1/2") for line in lines), lines
    songs = [float(line.split("]")[1].split()[0]) for line in lines]
    assert max(songs) <= summary["song_s"] + 0.05, lines
    final = lines[-1]
    assert final.startswith("rendering 2/2 100%"), lines
    assert songs[-1] == pytest.approx(summary["song_s"], abs=0.05)
    speed = float(final.split("x")[0].split()[-1])
    assert 0.7 <= speed / summary["realtime_factor"] <= 1.3, (final, summary)


def test_report_paths_are_whole_from_the_root_and_relative_below_the_current_folder(
        demo, tmp_path):
    """Issue 17: rendering from '/' printed every path without its leading slash
    (relative to the root); from a folder that has been removed the report failed
    after the files were written.  Paths below the current folder are shown relative
    to it, the others whole, whatever the current folder."""
    folder, _ = demo
    names = ("mix.wav", "drums.wav", "master.wav")

    def listed(result) -> list[str]:
        assert result.returncode == 0, result.stderr
        return [line.split()[0] for line in result.stdout.splitlines()
                if line.startswith("  ") and " s  " in line]

    out = tmp_path / "o"
    from_root = mixgraph("render", folder / "demo.mgraph", "-o", out, "-q", cwd="/")
    assert listed(from_root) == [str(out / n) for n in names]
    below = mixgraph("render", folder / "demo.mgraph", "-o", out, "-q", cwd=tmp_path)
    assert listed(below) == [f"o/{n}" for n in names]
    (tmp_path / "elsewhere").mkdir()
    beside = mixgraph("render", folder / "demo.mgraph", "-o", out, "-q",
                      cwd=tmp_path / "elsewhere")
    assert listed(beside) == [str(out / n) for n in names]
    gone = tmp_path / "gone"
    gone.mkdir()
    removed = subprocess.run(
        ["sh", "-c", 'cd "$1" && rmdir "$1" && exec "$2" -m mixgraph render "$3" -o "$4" -q',
         "sh", gone, sys.executable, folder / "demo.mgraph", out],
        capture_output=True, text=True, timeout=120)
    assert listed(removed) == [str(out / n) for n in names]


def test_mixgraph_play_without_sounddevice_says_what_to_install(tmp_path):
    """(Here, not with the playback tests: it must run where there is no audio server.)"""
    import os

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sounddevice.py").write_text("raise ImportError('no sounddevice here')\n")
    demo = tmp_path / "demo"
    env = dict(os.environ, PYTHONPATH=str(blocker))
    subprocess.run([sys.executable, "-m", "mixgraph", "demo", str(demo), "--json"],
                   env=env, check=True, capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "mixgraph", "play",
                           str(demo / "demo.mgraph")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "mixgraph: error: no audio playback: install sounddevice (pip install "
        "'mixgraph[play]'; on Linux it needs the PortAudio library: apt-get install "
        "libportaudio2)"]
