"""Editor benchmark: open a 220-node project, time edits (redraw and frame included).

    xvfb-run -a -s "-screen 0 1600x1000x24" python bench/editor.py

Prints the time to open the project (build every node, first frames) and the median
time of each kind of edit until the next frame is drawn: a parameter drag step, a
node add, a link, an undo.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def project(folder: Path, strips: int = 50) -> Path:
    """stems -> eq -> compressor -> channel -> 4 groups -> mix -> limiter -> output."""
    import numpy as np
    import soundfile as sf

    from mixgraph import Graph, save
    from mixgraph.editor.layout import arrange

    (folder / "stems").mkdir(parents=True, exist_ok=True)
    g = Graph(base_dir=folder)
    groups = [g.add("group", id=f"group{i}") for i in range(4)]
    g.add("bus", id="mix")
    for i in range(strips):
        sf.write(str(folder / "stems" / f"s{i}.wav"), np.zeros(4800), 48000)
        g.add("stem", id=f"s{i}", path=f"stems/s{i}.wav")
        g.add("eq", id=f"s{i}_eq", bands=[{"type": "highpass", "freq_hz": 40},
                                          {"type": "bell", "freq_hz": 300, "gain_db": -2}])
        g.add("compressor", id=f"s{i}_comp")
        g.add("channel", id=f"s{i}_ch", pan=(i % 9 - 4) / 4)
        for a, b in ((f"s{i}", f"s{i}_eq"), (f"s{i}_eq", f"s{i}_comp"),
                     (f"s{i}_comp", f"s{i}_ch"), (f"s{i}_ch", groups[i % 4])):
            g.connect(a, b)
    for grp in groups:
        g.connect(grp, "mix")
    g.add("limiter", id="limit")
    g.add("output", id="out", path="out/mix.wav")
    g.connect("mix", "limit")
    g.connect("limit", "out")
    while len(g) < 220:
        n = g.add("send", id=f"spare{len(g)}")
        g.connect("mix", n)
    arrange(g)
    path = folder / "big.mgraph"
    save(g, path)
    return path


def main() -> None:
    if not os.environ.get("DISPLAY"):
        sys.exit(subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24",
                                  sys.executable, __file__]))
    import dearpygui.dearpygui as dpg

    from mixgraph.editor.app import EditorApp
    from mixgraph.editor.session import Session

    path = project(Path(tempfile.mkdtemp()))
    t0 = time.perf_counter()
    session = Session.open(path)
    app = EditorApp(session, width=1600, height=1000)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    for _ in range(2):
        app.tick()
        dpg.render_dearpygui_frame()
    opened = time.perf_counter() - t0
    size = f"{len(session.graph)} nodes, {len(session.graph.links)} links"

    def timed(action, repeat=20) -> float:
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            action(i)
            app.tick()
            dpg.render_dearpygui_frame()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    def work(action, repeat=20) -> float:
        """The edit and the canvas update alone, without drawing a frame."""
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            action(i)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    drag_work = work(lambda i: app.edit(session.set_param, "s8_ch", "gain_db", -10 + i * 0.1))
    frame = timed(lambda i: None)
    drag = timed(lambda i: app.edit(session.set_param, "s7_ch", "gain_db", -10 + i * 0.1))
    add = timed(lambda i: app.edit(session.add_node, "gain", (100 + 5 * i, 900)))
    gains = [n for n in session.graph.nodes if n.startswith("gain")]
    link = timed(lambda i: app.edit(session.connect, "mix", gains[i]))
    undo = timed(lambda i: app.undo())
    overview = go = None
    if hasattr(app, "overview"):                 # (not in the editor before it landed)
        overview = timed(lambda i: app.overview.toggle(), repeat=10)   # open and close
        go = timed(lambda i: app.board.go_to(f"s{(i * 7) % 50}_comp"))
    print(size)
    print(f"  open (build and first frames): {opened * 1000:7.0f} ms")
    print(f"  idle frame:                    {frame:7.1f} ms  (drawing only; software OpenGL "
          "under Xvfb)")
    print(f"  parameter drag step:           {drag:7.1f} ms  ({drag_work:.1f} ms of it is the "
          "edit, history, validation and canvas update; the rest is drawing)")
    print(f"  add a node:                    {add:7.1f} ms")
    print(f"  link two nodes:                {link:7.1f} ms")
    print(f"  undo:                          {undo:7.1f} ms")
    if overview is not None:
        print(f"  overview open or close:        {overview:7.1f} ms")
        print(f"  go to a node:                  {go:7.1f} ms")
    dpg.destroy_context()


if __name__ == "__main__":
    main()
