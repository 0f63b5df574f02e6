"""The node editor window (Dear PyGui).

A view and a controller over a :class:`mixgraph.editor.session.Session`: every widget edits the
graph through the session (which keeps undo and redo), and after every change the
canvas is brought up to date from the model (``sync``), redrawing only the nodes and
links that changed.  Rendering and playback run in threads; the window polls them
once a frame.

``EditorApp`` builds the window and wires its parts, one module each: the canvas
(:mod:`.board`), a node's parameter widgets (:mod:`.inspector`), adding nodes and a
node's menu (:mod:`.palette`), the questions it asks (:mod:`.dialogs`), the project's
file (:mod:`.files`), templates and versions (:mod:`.templating`), autosave and
recovery (:mod:`.autosave`), rendering and the report (:mod:`.rendering`) and
listening (:mod:`.playback`).  The parts share the app's session, its status bar and
:meth:`EditorApp.edit`; none keeps a copy of the graph.

Keys: Delete (selection), Ctrl+S, Ctrl+O, Ctrl+Z, Ctrl+Shift+Z (redo), Space
(play/stop), F (frame the graph), Shift+F (frame the selection), O (the overview),
Ctrl+F (go to a node), M (mixer), A (automation lanes), Tab (node palette); right-click the canvas for the
palette, a node for its menu; drag a link from a pin into empty space for the nodes
that fit there; drop a node onto a link to put it in.
"""

from __future__ import annotations

import time
from typing import Any

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError

from . import recovery
from .autosave import Autosave
from .board import ERROR_COLOUR, Board
from .compare import Compare
from .dialogs import Dialogs, shift_down, shown
from .files import Files
from .inspector import Inspector
from .lanes_view import LanesView
from .mixer import Mixer
from .overview import Overview
from .palette import GoTo, NodeMenu, Palette
from .panel import NodePanel
from .regions_view import RegionStrip
from .playback import Playback
from .rendering import Rendering
from .routing import RoutingView
from .session import Session
from .templating import Templating
from .versions import VersionsView

FRAME_HZ = 60
PANELS = ("main", "mixer", "routing", "node_panel", "lanes")        # windows in front of which the shortcuts still work
DIALOGS = ("ask_window", "confirm_window", "template_window", "rules_window",
           "recover_window", "open_dialog", "save_dialog", "stems_dialog",
           "versions_window", "overview")


class EditorApp:
    def __init__(self, session: Session, width: int = 1400, height: int = 900):
        self.session = session
        self.width, self.height = width, height
        self.status_text = ""
        self.text_inputs: set[int] = set()           # typing in these is not a shortcut
        self.running = True
        self.waiting: list[list] = []                # [frames to wait, callback]
        self.board = Board(self)
        self.inspector = Inspector(self)
        self.palette = Palette(self)
        self.goto = GoTo(self)
        self.overview = Overview(self)
        self.node_menu = NodeMenu(self)
        self.dialogs = Dialogs(self)
        self.files = Files(self)
        self.templating = Templating(self)
        self.autosave = Autosave(self)
        self.rendering = Rendering(self)
        self.compare = Compare(self)
        self.playback = Playback(self)
        self.mixer = Mixer(self)
        self.regions_strip = RegionStrip(self)
        self.routing = RoutingView(self)
        self.versions = VersionsView(self)
        self.panel = NodePanel(self)
        self.lanes = LanesView(self)
        session.listeners.append(lambda what: self.sync())

    # ================================================================= setup
    def build(self) -> None:
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)   # callbacks run in frame(),
        #                                   on this thread: never beside the frame's work
        dpg.create_viewport(title=self.title(), width=self.width, height=self.height,
                            disable_close=True)
        dpg.set_exit_callback(lambda: self.request_quit())
        self.board.build()
        with dpg.window(tag="main", no_title_bar=True, no_move=True, no_resize=True,
                        no_collapse=True):
            self._menus()
            with dpg.group(horizontal=True):
                dpg.add_button(label="Render", callback=lambda: self.rendering.start())
                self.playback.build()
            with dpg.group(horizontal=True):
                self.playback.build_monitor()
            with dpg.group(horizontal=True):
                self.board.build_editor()
                self.panel.build()
            dpg.add_text("", tag="status", wrap=0)
        dpg.set_primary_window("main", True)
        self.palette.build()
        self.goto.build()
        self.overview.build()
        self.node_menu.build()
        self.files.build()
        self.templating.build()
        self.dialogs.build()
        self.autosave.build()
        self.rendering.build()
        self.compare.build()
        self.mixer.build()
        self.routing.build()
        self.versions.build()
        self.lanes.build()
        with dpg.item_handler_registry(tag="lane_click"):      # Shift+click: its lane
            dpg.add_item_clicked_handler(callback=lambda s, a: self.lanes.shift_click(a[1]))
        with dpg.handler_registry():
            dpg.add_key_press_handler(callback=self.on_key)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right,
                                        callback=lambda: self.on_right_click())
            dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left,
                                          callback=lambda: self.overview.on_release())
            dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left,
                                               callback=lambda: self.lanes.on_double_click())
        self.playback.show_availability()
        self.board.offset = self.board.frame_offset()
        self.sync()

    def _menus(self) -> None:
        files, ask, guard = self.files, self.dialogs.ask_text, self.dialogs.guard
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", callback=lambda: guard(files.new_empty))
                dpg.add_menu_item(label="New from template...",
                                  callback=lambda: guard(self.templating.open_template_dialog))
                dpg.add_menu_item(label="Open...", shortcut="Ctrl+O",
                                  callback=lambda: guard(files.open_dialog))
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: files.save())
                dpg.add_menu_item(label="Save as...", callback=lambda: files.save_as_dialog())
                dpg.add_menu_item(label="Save as template...",
                                  callback=lambda: ask("Template name", "",
                                                       self.templating.save_template))
                dpg.add_menu_item(label="Save version...",
                                  callback=lambda: ask("Version name", "",
                                                       self.templating.save_version))
                dpg.add_menu_item(label="Versions...", callback=lambda: self.versions.open())
                dpg.add_separator()
                dpg.add_menu_item(label="Quit", callback=lambda: self.request_quit())
            with dpg.menu(label="Edit"):
                dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.undo())
                dpg.add_menu_item(label="Redo", shortcut="Ctrl+Shift+Z",
                                  callback=lambda: self.redo())
                dpg.add_menu_item(label="Add node...", shortcut="Tab",
                                  callback=lambda: self.palette.show())
                dpg.add_menu_item(label="Copy", shortcut="Ctrl+C",
                                  callback=lambda: self.board.copy_selected())
                dpg.add_menu_item(label="Paste", shortcut="Ctrl+V",
                                  callback=lambda: self.board.paste())
                dpg.add_menu_item(label="Duplicate",
                                  callback=lambda: self.board.duplicate_selected())
                dpg.add_menu_item(label="Delete", shortcut="Delete",
                                  callback=lambda: self.board.delete_selected())
                dpg.add_menu_item(label="Frame graph", shortcut="F",
                                  callback=lambda: self.board.frame())
                dpg.add_menu_item(label="Frame selected", shortcut="Shift+F",
                                  callback=lambda: self.board.frame_selected())
                dpg.add_menu_item(label="Go to node...", shortcut="Ctrl+F",
                                  callback=lambda: self.goto.show())
                dpg.add_menu_item(label="Arrange", callback=lambda: (
                    self.edit(self.session.arrange), self.board.frame()))
                dpg.add_menu_item(label="Template rules...",
                                  callback=lambda: self.templating.open_rules())
            with dpg.menu(label="View"):
                dpg.add_menu_item(label="Overview", shortcut="O",
                                  callback=lambda: self.overview.toggle())
                dpg.add_menu_item(label="Mixer", shortcut="M",
                                  callback=lambda: self.mixer.toggle())
                dpg.add_menu_item(label="Routing", callback=lambda: self.routing.toggle())
                dpg.add_menu_item(label="Automation lanes", shortcut="A",
                                  callback=lambda: self.lanes.toggle())
            with dpg.menu(label="Render"):
                dpg.add_menu_item(label="Render...", callback=lambda: self.rendering.start())
                dpg.add_menu_item(label="Play / Stop", shortcut="Space",
                                  callback=lambda: self.playback.toggle())

    # ============================================================== the model
    def title(self) -> str:
        return f"mixgraph - {self.session.title}"

    def sync(self) -> None:
        """Bring the window up to date with the model (the canvas: only what changed)."""
        if not dpg.does_item_exist("editor"):
            return
        problems = self.session.problems()
        self.board.sync(problems)
        overall = problems.get(None)
        if overall:
            self.status(overall[0], error=True)
        dpg.set_viewport_title(self.title())
        self.playback.sync()
        self.mixer.sync()
        self.routing.sync()
        self.overview.sync()
        self.lanes.sync()
        self.panel.sync()

    def edit(self, fn, *args) -> Any:
        """Run an edit; a refusal goes to the status bar and changes nothing."""
        try:
            result = fn(*args)
            self.status("")
            return result
        except MixgraphError as exc:
            self.sync()                                # put widgets back to the model,
            self.status(exc.message, error=True)       # then say why: after sync, whose
            #                                            note of a project-wide problem
            #                                            would otherwise hide the refusal
        except Exception as exc:                       # pragma: no cover - a bug
            self.status(f"internal error: {type(exc).__name__}: {exc}", error=True)
        return None

    def status(self, text: str, error: bool = False) -> None:
        self.status_text = text
        if dpg.does_item_exist("status"):
            dpg.set_value("status", text)
            dpg.configure_item("status", color=ERROR_COLOUR if error else (200, 200, 200))

    def replace_session(self, session: Session) -> None:
        """Show another project (opened, new, or made from a template)."""
        self.playback.stop()                           # another project: nothing of this one
        self.session = session
        session.listeners.append(lambda what: self.sync())
        self.board.offset = (0.0, 0.0)
        self.board.clear()
        self.lanes.reset()
        self.rendering.takes = []
        self.board.frame()
        self.sync()                                    # (draws the new project's nodes)

    def set_param(self, nid: str, name: str, value: Any) -> None:
        """A parameter's control moved: a ride on an armed lane while playing (heard,
        written when playing stops), else an edit."""
        if not self.lanes.rides.take(nid, name, value):
            self.edit(self.session.set_param, nid, name, value)

    def undo(self) -> None:
        label = self.session.undo()
        self.status(f"undid {label}" if label else "nothing to undo")

    def redo(self) -> None:
        label = self.session.redo()
        self.status(f"redid {label}" if label else "nothing to redo")

    # ================================================================ input
    def typing(self) -> bool:
        """Whether keys go to a field or a dialog now: a text field, or a value field
        being typed into (Ctrl+click on a drag) or dragged, or a window other than the
        main one in front (a file chooser, a dialog, the palette)."""
        active = dpg.get_active_window()                 # an id, or the window's tag
        if active and not self.in_panel(active) and shown(active):
            return True                                  # (a window closed stays active)
        if any(shown(d) for d in DIALOGS):
            return True                                  # (a file chooser is never the
        #                                                  active window, even in front)
        fields = [*self.text_inputs, *self.inspector.param_items.values(),
                  *self.panel.items.values(), *self.mixer.widgets.values()]
        return any(item is not None and dpg.does_item_exist(item) and dpg.is_item_active(item)
                   for item in fields)

    @staticmethod
    def in_panel(window) -> bool:
        """Whether a window is one of the panels (or a part of one, as a mixer strip)."""
        panels = {*PANELS, *(dpg.get_alias_id(p) for p in PANELS if dpg.does_item_exist(p))}
        while window:
            if window in panels:
                return True
            window = dpg.get_item_parent(window) if dpg.does_item_exist(window) else None
        return False

    def soon(self, callback, frames: int = 2) -> None:
        """Run ``callback`` a few frames from now (after a menu or popup has closed)."""
        self.waiting.append([frames, callback])

    def run_waiting(self) -> None:
        due = [w for w in self.waiting if w[0] <= 0]
        self.waiting = [w for w in self.waiting if w[0] > 0]
        for w in self.waiting:
            w[0] -= 1
        for _, callback in due:
            callback()

    def on_key(self, sender, key) -> None:
        if any(part.on_key(key) for part in (self.palette, self.goto, self.node_menu,
                                             self.overview, self.lanes)):
            return
        if self.typing():
            return
        ctrl = dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        shift = shift_down()
        if ctrl and key == dpg.mvKey_Z:
            self.redo() if shift else self.undo()
        elif ctrl and key == dpg.mvKey_S:
            self.files.save()
        elif ctrl and key == dpg.mvKey_O:
            self.dialogs.guard(self.files.open_dialog)
        elif ctrl and key == dpg.mvKey_C:
            self.board.copy_selected()
        elif ctrl and key == dpg.mvKey_V:
            self.board.paste()
        elif ctrl and key == dpg.mvKey_F:
            self.goto.show()
        elif key == dpg.mvKey_Delete:
            self.board.delete_selected()
        elif key == dpg.mvKey_Spacebar:
            self.playback.toggle()
        elif key == dpg.mvKey_F and shift:
            self.board.frame_selected()
        elif key == dpg.mvKey_F and not ctrl:
            self.board.frame()
        elif key == dpg.mvKey_O and not ctrl:
            self.overview.toggle()
        elif key == dpg.mvKey_Tab:
            self.palette.show()
        elif key == dpg.mvKey_M and not ctrl:
            self.mixer.toggle()
        elif key == dpg.mvKey_A and not ctrl:
            self.lanes.toggle()

    def on_right_click(self) -> None:
        if self.lanes.on_right_click():
            return
        node = self.board.hovered_node()
        if node is not None:
            self.node_menu.open(node)
        elif dpg.is_item_hovered("editor"):
            self.palette.show_at_mouse()

    # ----------------------------------------------------------------- loop
    def request_quit(self) -> None:
        self.dialogs.guard(self.quit)

    def quit(self) -> None:
        recovery.clear(self.session.path)
        self.playback.stop()
        self.rendering.forget_folders()
        self.running = False
        dpg.stop_dearpygui()

    def tick(self) -> None:
        """Work done once per frame: drags, render progress, playback, autosave."""
        self.run_waiting()
        if self.board.home is None:                  # before anyone can pan: the home
            self.board.find_origin()
        self.board.poll_moves()
        self.panel.tick()
        self.lanes.tick()
        self.regions_strip.tick()
        self.rendering.poll()
        self.playback.tick()
        self.autosave.tick()

    def frame(self) -> None:
        """One frame, at most FRAME_HZ a second (where the display does not wait for
        its refresh, e.g. a virtual one, the window would otherwise take a whole core
        from the sound)."""
        start = time.monotonic()
        self.run_callbacks()
        self.tick()
        dpg.render_dearpygui_frame()
        rest = 1.0 / FRAME_HZ - (time.monotonic() - start)
        if rest > 0:
            time.sleep(rest)

    def run_callbacks(self) -> None:
        """The widgets' callbacks queued since the last frame, each on its own: one
        that fails (a bug) says so in the status bar and the others still run."""
        for job in dpg.get_callback_queue() or []:
            try:
                dpg.run_callbacks([job])
            except Exception as exc:                   # pragma: no cover - a bug
                self.status(f"internal error: {type(exc).__name__}: {exc}", error=True)

    def run(self) -> None:
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.autosave.offer_recovery()
        while self.running and dpg.is_dearpygui_running():
            self.frame()
        dpg.destroy_context()


def main(project: str | None = None) -> int:
    session = Session.open(project) if project else Session()
    app = EditorApp(session)
    app.build()
    app.run()
    return 0
