"""Shared, seeded test material and test-only node types.

Audio is generated here, never committed.  Outputs are written as FLOAT WAV so the
tests read back exactly what the engine computed.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import firwin, lfilter, oaconvolve

from mixgraph import Graph, render
from mixgraph.nodes.base import Node, Param, register

SR = 48000
STARTED = time.time()              # when this test session began (conftest loads first)
BLOCK_SIZES = [1, 64, 65, 1000, 8192, 8193]


# ------------------------------------------------------------------ material
def sine(freq: float, seconds: float, level_db: float = -6.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (10 ** (level_db / 20) * np.sin(2 * np.pi * freq * t))[None, :]


def faded_sine(freq: float = 440.0, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    x = sine(freq, seconds, -6.0, sr)
    ramp = np.minimum(1.0, np.minimum(np.arange(x.shape[1]), x.shape[1] - np.arange(x.shape[1]))
                      / (0.05 * sr))
    return x * ramp


def chirp_with_clicks(seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    f0, f1 = 40.0, 16000.0
    k = math.log(f1 / f0) / seconds
    x = 0.4 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    x[:: sr // 4] += 0.5
    return x[None, :]


def seeded_noise(seconds: float = 2.0, channels: int = 1, seed: int = 1,
                 level_db: float = -20.0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10 ** (level_db / 20) * rng.standard_normal((channels, int(seconds * sr)))


def impulse(at_s: float, seconds: float, sr: int = SR, channels: int = 1) -> np.ndarray:
    x = np.zeros((channels, int(seconds * sr)))
    x[:, int(round(at_s * sr))] = 1.0
    return x


# ------------------------------------------------- an independent true-peak reading
REF_UP, REF_CROSSINGS, REF_BETA = 32, 256, 14.0


@functools.lru_cache(maxsize=1)
def reference_filter_32x() -> np.ndarray:
    return firwin(2 * REF_UP * REF_CROSSINGS + 1, 1 / REF_UP, window=("kaiser", REF_BETA))


def upsampled_32x(channel: np.ndarray) -> np.ndarray:
    """``resample_poly(x, 32, 1, window=h)`` of one channel padded with zeros (so that its
    ends are interpolated too), h a 32x windowed sinc with 256 zero crossings each
    side (16385 taps, Kaiser beta 14: flat to 23.6 kHz at 48 kHz, images 130 dB
    down), computed phase by phase with FFT convolution: the same sums, ~50x faster.

    No reading of noise with as much energy at Nyquist as anywhere is final: its
    peaks are made by long runs of samples, and every longer interpolator reads them
    a little higher (see :mod:`mixgraph.nodes.truepeak`).  This one is as sharp as
    the library's own and longer; the limiter tests also read with a 64-crossing 16x
    interpolator, of the kind whose images a sharp detector alone would miss."""
    h = reference_filter_32x() * REF_UP
    x = np.pad(np.asarray(channel, dtype=np.float64), REF_CROSSINGS + 8)
    phases = [oaconvolve(x, h[p::REF_UP]) for p in range(REF_UP)]
    y = np.zeros(len(phases[0]) * REF_UP)
    for p, part in enumerate(phases):
        y[p::REF_UP][:len(part)] = part
    return y[REF_UP * REF_CROSSINGS:REF_UP * (REF_CROSSINGS + len(x))]


def true_peak_32x(x: np.ndarray) -> float:
    """True peak (dBTP) by :func:`upsampled_32x`, the independent reading of the audio
    tests (the meter's, and the limiter's ceiling)."""
    return 20 * math.log10(max(float(np.abs(upsampled_32x(c)).max())
                               for c in np.atleast_2d(x)))


# ------------------------------------------------ an independent EQ response
def rbj(kind: str, f0: float, gain_db: float, q: float, fs: int):
    """(b, a) from the Audio EQ Cookbook (written out here, independent of the node)."""
    a_ = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / fs
    c, s = math.cos(w0), math.sin(w0)
    alpha = s / (2 * q)
    if kind == "bell":
        b, a = [1 + alpha * a_, -2 * c, 1 - alpha * a_], [1 + alpha / a_, -2 * c, 1 - alpha / a_]
    elif kind in ("low_shelf", "high_shelf"):
        sq = 2 * math.sqrt(a_) * alpha
        sign = 1 if kind == "low_shelf" else -1
        b = [a_ * ((a_ + 1) - sign * (a_ - 1) * c + sq), sign * 2 * a_ * ((a_ - 1) - sign * (a_ + 1) * c),
             a_ * ((a_ + 1) - sign * (a_ - 1) * c - sq)]
        a = [(a_ + 1) + sign * (a_ - 1) * c + sq, -sign * 2 * ((a_ - 1) + sign * (a_ + 1) * c),
             (a_ + 1) + sign * (a_ - 1) * c - sq]
    elif kind == "notch":
        b, a = [1, -2 * c, 1], [1 + alpha, -2 * c, 1 - alpha]
    elif kind == "bandpass":
        b, a = [alpha, 0, -alpha], [1 + alpha, -2 * c, 1 - alpha]
    elif kind == "lowpass":
        b, a = [(1 - c) / 2, 1 - c, (1 - c) / 2], [1 + alpha, -2 * c, 1 - alpha]
    elif kind == "highpass":
        b, a = [(1 + c) / 2, -(1 + c), (1 + c) / 2], [1 + alpha, -2 * c, 1 - alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


def eq_reference_db(bands, fs, freqs) -> np.ndarray:
    """Magnitude (dB) of ``eq`` bands at ``freqs`` (Hz): scipy's ``freqz`` of the RBJ
    cookbook biquads and ``sosfreqz`` of scipy's Butterworth designs for the steeper
    highpass and lowpass slopes."""
    from scipy import signal

    freqs = np.asarray(freqs, dtype=np.float64)
    h = np.ones(len(freqs), dtype=complex)
    for band in bands:
        if not band.get("on", True):
            continue
        kind = band["type"]
        if kind in ("highpass", "lowpass") and band.get("slope_db_oct", 12) > 12:
            order = band["slope_db_oct"] // 6
            sos = signal.butter(order, band["freq_hz"], btype=kind[:-4] if kind == "highpass"
                                else "low", fs=fs, output="sos")
            h *= signal.sosfreqz(sos, worN=freqs, fs=fs)[1]
        else:
            q = 1 / math.sqrt(2) if kind in ("highpass", "lowpass") else band.get("q", 0.7071)
            b, a = rbj(kind, band["freq_hz"], band.get("gain_db", 0.0), q, fs)
            h *= signal.freqz(b, a, worN=freqs, fs=fs)[1]
    return 20 * np.log10(np.maximum(np.abs(h), 1e-300))


def db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def rms_db(x: np.ndarray) -> float:
    return db(float(np.sqrt(np.mean(np.square(x)))))


# -------------------------------------------------------------------- helpers
@pytest.fixture
def project(tmp_path):
    """A factory for a graph in ``tmp_path`` with helpers to add stems and read outputs."""
    return ProjectHelper(tmp_path)


class ProjectHelper:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.graph = Graph(sample_rate=SR, base_dir=folder)

    def stem_file(self, name: str, audio: np.ndarray, sr: int = SR,
                  subtype: str = "FLOAT") -> str:
        (self.folder / "stems").mkdir(exist_ok=True)
        rel = f"stems/{name}.wav"
        sf.write(str(self.folder / rel), np.atleast_2d(audio).T, sr, subtype=subtype)
        return rel

    def stem(self, node_id: str, audio: np.ndarray, sr: int = SR, **params) -> str:
        return self.graph.add("stem", id=node_id, path=self.stem_file(node_id, audio, sr),
                              **params)

    def output(self, node_id: str = "out", src: str | None = None, **params) -> str:
        params.setdefault("path", f"out/{node_id}.wav")
        params.setdefault("subtype", "FLOAT")
        self.graph.add("output", id=node_id, **params)
        if src is not None:
            self.graph.connect(src, node_id)
        return node_id

    def render(self, block_size: int = 1024, **kwargs):
        return render(self.graph, block_size=block_size, **kwargs)

    def read(self, node_id: str = "out") -> np.ndarray:
        path = self.graph.resolve_path(self.graph.nodes[node_id].params["path"])
        data, _ = sf.read(str(path), dtype="float64", always_2d=True)
        return data.T

    def render_read(self, node_id: str = "out", block_size: int = 1024) -> np.ndarray:
        self.render(block_size)
        return self.read(node_id)


def hot_limiters(project: "ProjectHelper", seconds: float = 2.0,
                 muted: str | None = None) -> None:
    """Two hot stems (peaks at -0.9 dBFS), each straight into a limiter (where the mix
    meets the master chain, inside a chain), summed on a bus into an output; ``muted``:
    a limiter muted through a group."""
    g = project.graph
    for i in range(2):
        project.stem(f"s{i}", sine(100.0 * (i + 1), seconds, level_db=-0.9))
        g.add("limiter", id=f"lim{i}")
        g.connect(f"s{i}", f"lim{i}")
    g.add("bus", id="mix", gain_db=-12.0)
    g.connect("lim0", "mix")
    g.connect("lim1", "mix")
    if muted is not None:
        g.add("group", id="off", members=[muted], mute=True)
    project.output(src="mix")


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker`` (a command a test started
    with it, and every process that command started)."""
    from mixgraph.nodes.tempfiles import process_alive

    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return [p for p in found if process_alive(p)]


# ------------------------------------------------------------ test-only nodes
@register
class LatentDelay(Node):
    """Delays its input by ``samples`` and reports that as latency (a test node)."""

    type_name = "test_latent"
    category = "test"
    params = (Param("samples", 0, kind="int", min=0, max=1_000_000),)

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        self._buf = np.zeros((chans[0], self.samples))
        return chans

    def latency(self):
        return self.samples

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        joined = np.concatenate((self._buf, x), axis=1)
        out[:] = joined[:, :x.shape[1]]
        self._buf = joined[:, x.shape[1]:]

    def reset(self):
        self._buf[:] = 0.0


@register
class DecayTail(Node):
    """A one-pole decay y[n] = x[n] + a y[n-1] with a declared tail (a test node)."""

    type_name = "test_decay"
    category = "test"
    params = (Param("tau_s", 0.1, min=0.001, max=10.0, automatable=False),
              Param("declared_tail_s", -1.0, min=-1.0, max=100.0, automatable=False))

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        self._a = math.exp(-1.0 / (self.tau_s * ctx.sample_rate))
        self._zi = np.zeros((chans[0], 1))
        return chans

    def tail(self):
        if self.declared_tail_s >= 0:
            return self.declared_tail_s
        # time for a full-scale impulse response (gain 1/(1-a) at DC) to reach -90 dBFS
        peak = 1.0 / (1.0 - self._a)
        return self.tau_s * math.log(peak / 10 ** (-90 / 20))

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        y, self._zi = lfilter([1.0], [1.0, -self._a], x, axis=1, zi=self._zi)
        out[:] = y * (1.0 - self._a)

    def reset(self):
        self._zi[:] = 0.0


@register
class FailAt(Node):
    """Passes audio through, then fails at song sample ``at`` (a test node)."""

    type_name = "test_fail"
    category = "test"
    params = (Param("at", 0, kind="int", min=0, max=10**9),)

    def process(self, ins, outs, start):
        if start + ins[0].shape[1] > self.at:
            raise RuntimeError("test node failed on purpose")
        outs[0][:] = ins[0]


TEST_TYPES = ("test_latent", "test_decay", "test_fail")


def pytest_collection_modifyitems(config, items):
    """Tests on a Dask cluster run last: Dask leaves a thread running in the test
    process, and renders started beside another thread use worker threads instead of
    forked worker processes (mixgraph.core.runners), which the other tests want to exercise."""
    items.sort(key=lambda item: "cluster" in getattr(item, "fixturenames", ()))


@pytest.fixture
def own_user_dir(tmp_path, monkeypatch):
    """A data folder of the test's own (XDG_DATA_HOME): no test sees or writes the real
    user's templates or recovery files."""
    home = tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def soft_knee(x, t, r, w):
    """The soft-knee static curve of Giannoulis, Massberg and Reiss 2012, eq. 4
    (written out here)."""
    if 2 * (x - t) < -w:
        return x
    if 2 * abs(x - t) <= w:
        return x + (1 / r - 1) * (x - t + w / 2) ** 2 / (2 * w)
    return t + (x - t) / r
