"""Regenerate the README's editor screenshots (run under a display or xvfb-run).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshots.py

Writes docs/editor-mix.png (the demo's mix graph), docs/editor-meters.png (the same
with the meters and readouts the live engine gives 4 s into the song: rendered here
without a sound card, the readings are the engine's own), docs/editor-mixer.png (the
mixer view, with the same meters), docs/editor-routing.png (the routing matrix),
docs/editor-overview.png (the overview: the whole graph legible at once),
docs/editor-report.png (its render report), docs/editor-ab.png (an A/B of that
render against one with the kick 4 dB up), docs/editor-lanes.png (automation
lanes: a ride on the lead's fader, the echo brought in for a bar) and
docs/editor-regions.png (the lead's clip regions on its waveform strip), all at half
size.  ``python docs/make_screenshots.py regions`` makes the last one alone.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG from an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def read_png(path: Path) -> np.ndarray:
    """(h, w, channels) uint8 pixels of an 8-bit, non-interlaced PNG."""
    data = path.read_bytes()
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour = header[0], header[1], header[2], header[3]
    channels = {2: 3, 6: 4, 0: 1, 4: 2}[colour]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * channels)
    out = np.zeros((h, w * channels), dtype=np.int32)
    for y in range(h):
        f, row = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros(w * channels, dtype=np.int32)
        if f == 0:
            out[y] = row
        elif f == 2:
            out[y] = (row + up) & 255
        else:                                  # sub, average, paeth: left to right
            cur = np.zeros(w * channels, dtype=np.int32)
            for x in range(w * channels):
                left = cur[x - channels] if x >= channels else 0
                ul = up[x - channels] if x >= channels else 0
                if f == 1:
                    pred = left
                elif f == 3:
                    pred = (left + up[x]) // 2
                else:
                    p = left + up[x] - ul
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else ul)
                cur[x] = (row[x] + pred) & 255
            out[y] = cur
    return out.reshape(h, w, channels).astype(np.uint8)


def capture(dpg, app, path: Path) -> None:
    full = path.with_suffix(".full.png")
    dpg.output_frame_buffer(file=str(full))
    for _ in range(4):
        app.frame()
    a = read_png(full)[:, :, :3].astype(np.float64)
    full.unlink()
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    write_png(path, np.clip(a + 0.5, 0, 255).astype(np.uint8))


def show_meters(app, dpg, graph, seconds: float) -> None:
    """The canvas's meters and the transport's readout as they are ``seconds`` into
    playing the master (the live engine run without a device)."""
    from mixgraph.core.live import LiveEngine
    from mixgraph.editor.player import readout

    engine = LiveEngine(graph)
    try:
        started = time.perf_counter()
        for _ in range(int(seconds * graph.sample_rate) // engine.block_size):
            engine.render(engine.block_size)
        load = (time.perf_counter() - started) / seconds
        readings = engine.meters()
    finally:
        engine.close()
    app.board.show_meters(True)
    app.board.draw_meters(readings["nodes"])
    dpg.set_value("readout", readout(dict(readings, underruns=0, cpu_load=load), seconds))
    for _ in range(4):
        app.frame()
    return readings


def render_again(app, change) -> None:
    """Make a change and render: a second take, for the A/B."""
    change()
    job = app.rendering.start()
    while app.rendering.job is not None:
        app.frame()
        time.sleep(0.01)
    job.wait()


def show_lanes(app) -> None:
    """A vocal ride on the lead's fader and the echo brought in for a bar, rendered,
    in their lanes over the nodes' signals and levels."""
    session = app.session
    ride = [[0.0, -5.0], [1.9, -5.0], [2.4, -2.5], [3.9, -2.5], [4.3, -6.5], [5.9, -6.0],
            [6.6, -3.5], [8.0, -3.5]]
    render_again(app, lambda: (
        app.edit(session.set_automation, "lead_ch", "gain_db", ride, "linear", -5.0),
        app.edit(session.set_automation, "echo", "bypass", [[0.0, 1.0], [4.0, 0.0],
                                                            [6.0, 1.0]], "step", 0.0)))
    dpg_hide("report_window")
    app.lanes.open_lane("lead_ch", "gain_db")
    app.lanes.open_lane("echo", "bypass")
    app.lanes.measure()
    while app.lanes.busy:
        app.frame()
    for _ in range(6):
        app.frame()


def show_regions(app) -> None:
    """The lead vocal cut into three regions: its start, a phrase moved later and
    turned down, and a crossfade into its ending, in the inspector's strip."""
    regions = [{"length_s": 3.0, "fade_in_s": 0.05},
               {"at_s": 3.4, "from_s": 4.2, "length_s": 2.0, "gain_db": -4.0},
               {"at_s": 5.2, "from_s": 3.0, "fade_out_s": 1.2, "fade_out_curve": "s_curve"}]
    app.edit(app.session.gesture, "lead", "regions", regions, "regions")
    app.panel.focus("lead")
    for _ in range(4):
        app.frame()
    while not app.regions_strip.found:
        app.frame()
        time.sleep(0.01)
    for _ in range(4):
        app.frame()


def dpg_hide(tag: str) -> None:
    import dearpygui.dearpygui as dpg

    dpg.hide_item(tag)


def main() -> None:
    import dearpygui.dearpygui as dpg

    from mixgraph.editor.app import EditorApp
    from mixgraph.editor.session import Session
    from mixgraph.workflows.demo import write_demo

    folder = Path(tempfile.mkdtemp())
    graph = write_demo(folder / "demo")
    app = EditorApp(Session.open(graph.path), width=1600, height=1000)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    for _ in range(6):
        app.frame()
    if sys.argv[1:] == ["regions"]:
        show_regions(app)
        capture(dpg, app, HERE / "editor-regions.png")
        dpg.destroy_context()
        return
    capture(dpg, app, HERE / "editor-mix.png")
    readings = show_meters(app, dpg, graph, seconds=4.0)
    capture(dpg, app, HERE / "editor-meters.png")
    app.mixer.toggle()
    app.mixer.draw_meters(readings["nodes"])
    for _ in range(4):
        app.frame()
    capture(dpg, app, HERE / "editor-mixer.png")
    app.mixer.toggle()
    app.routing.toggle()
    for _ in range(4):
        app.frame()
    capture(dpg, app, HERE / "editor-routing.png")
    app.routing.toggle()
    app.overview.toggle()
    for _ in range(4):
        app.frame()
    capture(dpg, app, HERE / "editor-overview.png")
    app.overview.toggle()
    app.board.show_meters(False)
    dpg.set_value("readout", "")
    job = app.rendering.start()
    while app.rendering.job is not None:
        app.frame()
        time.sleep(0.01)
    job.wait()       # the frame-buffer callback must not run while another thread does
    capture(dpg, app, HERE / "editor-report.png")
    render_again(app, lambda: app.edit(app.session.set_param, "kick_ch", "gain_db", 2.0))
    dpg.hide_item("report_window")
    app.compare.show(*app.rendering.takes)
    for _ in range(4):
        app.frame()
    capture(dpg, app, HERE / "editor-ab.png")
    dpg.hide_item("compare_window")
    show_lanes(app)
    capture(dpg, app, HERE / "editor-lanes.png")
    app.lanes.toggle()
    show_regions(app)
    capture(dpg, app, HERE / "editor-regions.png")
    dpg.destroy_context()
    for name in ("editor-mix.png", "editor-meters.png", "editor-mixer.png",
                 "editor-routing.png", "editor-overview.png", "editor-report.png",
                 "editor-ab.png", "editor-lanes.png", "editor-regions.png"):
        print(f"{name}: {(HERE / name).stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
