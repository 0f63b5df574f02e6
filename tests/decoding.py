"""What files hold, read by independent tools (ffmpeg, ffprobe), for the tests: audio
decoded to samples, a loudness reading, a screenshot's pixels."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np


def decode_audio(path, dtype: str = "f32") -> tuple[np.ndarray, int]:
    """(channels, frames) samples and the rate of an audio file, as ffmpeg decodes
    it (``dtype``: "f32" or "f64")."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                            "stream=sample_rate,channels", "-of", "json", str(path)],
                           capture_output=True, text=True, check=True)
    stream = json.loads(probe.stdout)["streams"][0]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", f"{dtype}le",
                          "-acodec", f"pcm_{dtype}le", "-"], capture_output=True,
                         check=True).stdout
    samples = np.frombuffer(raw, dtype=np.float32 if dtype == "f32" else np.float64)
    return samples.reshape(-1, int(stream["channels"])).T, int(stream["sample_rate"])


def ffmpeg_loudness(path) -> dict:
    """Integrated loudness and true peak as ffmpeg's ebur128 filter reads them."""
    run = subprocess.run(["ffmpeg", "-nostats", "-v", "info", "-i", str(path), "-af",
                          "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True, check=True)
    summary = run.stderr[run.stderr.rfind("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return {"lufs": lufs, "true_peak": peak}


def decode_png(path) -> np.ndarray:
    """A screenshot as (height, width, 3) RGB, decoded by ffmpeg."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                            "-show_entries", "stream=width,height", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True, check=True).stdout
    w, h = map(int, probe.strip().split(","))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3).astype(int)
