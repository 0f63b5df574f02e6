"""The ``mixgraph`` command line: a thin shell over the Python API.

Errors a user can cause are printed as one sentence on stderr with a non-zero exit
status; ``--debug`` adds the traceback.  Heavy modules are imported inside the
commands so that ``mixgraph --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_JOBS_FAILED = 3                 # batch: it ran, and some jobs failed
# diff, as diff(1): 0 the same, 1 different, 2 trouble (a project that cannot be read)
EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2
#: commands whose errors exit otherwise than EXIT_ERROR (where 1 means something else)
ERROR_STATUS = {"diff": EXIT_TROUBLE}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixgraph",
        description="Mix and master audio as a dataflow graph: stems, channels, sends, "
                    "buses and master-chain stages, rendered in blocks from and to disk.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when something goes wrong")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("render", help="render a project's outputs",
                       description="Validate a project and render every output node.")
    p.add_argument("project", help="project file (.mgraph or .json)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write: a file for a project with one output, else a "
                        "folder that receives every output under its file name")
    p.add_argument("--block-size", type=int, default=1024, metavar="N",
                   help="samples per block, 1 to 65536 (the result does not depend on it; "
                        "default 1024)")
    p.add_argument("-j", "--workers", type=int, default=None, metavar="N",
                   help="processes that render independent chains of nodes at once "
                        "(default: one per core; the result does not depend on it)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-outside", action="store_true",
                   help="let the project write outputs outside its own folder")
    p.add_argument("--stems", metavar="DIR",
                   help="instead of the outputs, write the stems that sum to the mix bus "
                        "(one per group, effect return or ungrouped channel) into DIR")
    p.add_argument("--stems-channels", action="store_true",
                   help="with --stems: also write every channel as a file")
    p.add_argument("--mix-bus", metavar="ID", help="with --stems: the mix bus (default: the "
                                                   "bus feeding the master chain)")

    p = sub.add_parser("validate", help="check a project without rendering",
                       description="Report every problem in a project at once.")
    p.add_argument("project", help="project file (.mgraph or .json)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("demo", help="write demo stems and a project, render it",
                       description="Synthesise a few seconds of stems, write a mix project "
                                   "that uses them, render it and print the report.")
    p.add_argument("dir", nargs="?", default="mixgraph-demo",
                   help="folder to write into (default: ./mixgraph-demo)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("new", help="bind a folder of stems to a template: a new project",
                       description="Make a project from a template: every audio file in "
                                   "the stems folder (and its subfolders) gets one fate: "
                                   "bound to the slot it fits best, routed through the "
                                   "catch-all, or ignored by a rule; the binding table "
                                   "says which and why.")
    p.add_argument("--template", "-t", required=True, metavar="NAME",
                   help="a template name (see 'mixgraph templates') or a template file")
    p.add_argument("--stems", required=True, metavar="DIR", help="folder of audio files")
    p.add_argument("-o", "--output", required=True, metavar="PROJECT",
                   help="project file to write (.mgraph or .json); its folder is made")
    p.add_argument("--assign", action="append", default=[], metavar="FILE=SLOT",
                   help="bind a file to a slot by hand (repeatable)")
    p.add_argument("--ignore", action="append", default=[], metavar="PATTERN",
                   help="leave files whose name fits this pattern out (repeatable)")
    p.add_argument("--leave-out", action="store_true",
                   help="leave out what no slot or catch-all takes, instead of stopping")
    p.add_argument("--sample-rate", type=int, metavar="HZ",
                   help="the project's rate (default: the rate most files share)")
    p.add_argument("--force", action="store_true", help="replace an existing project file")
    p.add_argument("--json", action="store_true", help="print the binding as JSON")

    p = sub.add_parser("templates", help="list the shipped and the user's templates")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    p = sub.add_parser("template", help="manage user templates")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = tsub.add_parser("save", help="save a project as a user template (stems unbound)")
    q.add_argument("project", help="project file")
    q.add_argument("name", help="name of the template")
    q.add_argument("--description", default="", help="one line saying what it is for")
    q.add_argument("--force", action="store_true", help="replace a template of that name")

    p = sub.add_parser("version", help="keep, list and restore named, dated versions")
    vsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = vsub.add_parser("save", help="keep a copy of the project as it is now")
    q.add_argument("project", help="project file")
    q.add_argument("name", nargs="?", default="", help="what this version is (optional)")
    q = vsub.add_parser("list", help="list a project's versions")
    q.add_argument("project", help="project file")
    q = vsub.add_parser("restore", help="put a version back (the current state is kept)")
    q.add_argument("project", help="project file")
    q.add_argument("id", help="version number from 'version list', id, or name")

    p = sub.add_parser("diff", help="what changed between two projects or versions",
                       description="Print what changed from A to B in an engineer's words "
                                   "(the editor's layout aside).",
                       epilog="Exit status, as diff(1)'s: 0 when the projects are the same, "
                              "1 when they differ, 2 when one cannot be read.")
    p.add_argument("a", help="project (or version) file")
    p.add_argument("b", help="project (or version) file")

    p = sub.add_parser("play", help="play a project through the sound card",
                       description="Play a project in real time: the whole song, a range "
                                   "of it, or a loop of it until Ctrl-C.  Writes nothing.",
                       epilog="Needs sounddevice (pip install 'mixgraph[play]') and, on "
                              "Linux, the PortAudio library (apt-get install libportaudio2).")
    p.add_argument("project", help="project file (.mgraph or .json)")
    p.add_argument("--from", dest="start", type=float, default=0.0, metavar="S",
                   help="start at song time S seconds (default 0)")
    p.add_argument("--to", dest="end", type=float, default=None, metavar="S",
                   help="stop (or loop back) at song time S seconds (default: the end of "
                        "the song and its tails)")
    p.add_argument("--loop", action="store_true", help="loop from --from to --to until Ctrl-C")
    p.add_argument("--listen", metavar="NODE[.PORT]",
                   help="what to hear: an output node, or one node's port alone (default: "
                        "the first output)")
    p.add_argument("--device", metavar="D",
                   help="output device, by number or part of its name (default: the "
                        "system's default output)")
    p.add_argument("--buffer", type=int, default=512, metavar="FRAMES",
                   help="device buffer in frames (default 512)")
    p.add_argument("--json", action="store_true",
                   help="print what was played as JSON at the end")

    p = sub.add_parser("edit", help="open the node editor",
                       description="Open the node editor on a project (or a new one).")
    p.add_argument("project", nargs="?", help="project file (.mgraph or .json)")

    p = sub.add_parser("album", help="sequence and master an album",
                       description="Album projects: songs in order with gaps or "
                                   "crossfades, consistent loudness, a programme file and "
                                   "a CUE sheet.")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = asub.add_parser("render", help="render every song, the programme and its CUE sheet")
    q.add_argument("album", help="album file (.json or .mgraph with kind 'album')")
    q.add_argument("-o", "--output", metavar="DIR",
                   help="folder to write into (default: 'out' next to the album file)")
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q = asub.add_parser("new", help="an album file listing the mixes in a folder")
    q.add_argument("folder", help="folder of mixes (and/or projects), in song order by name")
    q.add_argument("-o", "--output", required=True, metavar="ALBUM", help="album file to write")
    q.add_argument("--gap", type=float, default=2.0, metavar="S", help="gap between songs")
    q.add_argument("--mode", choices=("album", "track"), default="album",
                   help="loudness mode (default: album)")
    q.add_argument("--target", type=float, default=-14.0, metavar="LUFS",
                   help="loudness target (default: -14)")

    p = sub.add_parser("batch", help="render many songs (and alternate mixes) through a template",
                       description="Bind each song folder's stems to a template and render "
                                   "it into OUT/SONG/ (OUT/SONG/VARIANT/ with variants), on "
                                   "a local pool of processes or a Dask cluster.  A manifest "
                                   "in OUT records every job; running the batch again skips "
                                   "what is done and unchanged.")
    p.add_argument("template", help="template name or file")
    p.add_argument("songs", nargs="+", metavar="SONG_DIR", help="song folders of stems")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="folder to render into")
    p.add_argument("-j", "--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster instead, e.g. tcp://host:8786")
    p.add_argument("--variants", metavar="FILE",
                   help="JSON file of named alternate mixes: {name: {node.param: value}}")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   dest="overrides", help="override a parameter for every job "
                                          "(=VALUE, +=X, -=X; repeatable)")
    p.add_argument("--block-size", type=int, default=1024, metavar="N",
                   help="samples per block (the result does not depend on it)")
    p.add_argument("--force", action="store_true", help="render even what is unchanged")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("deliver", help="every destination's file from one master, checked",
                       description="Render a finished master (an audio file, or a project's "
                                   "main output) for each delivery profile into "
                                   "DIR/PROFILE/: loudness, true-peak ceiling, rate, dither, "
                                   "encoding and tags; every file is decoded again and "
                                   "checked against its spec.")
    p.add_argument("source", nargs="?", help="a mix file, a project, or an album")
    p.add_argument("--profile", help="profile names, comma-separated (--list shows them)")
    p.add_argument("-o", "--output-dir", default="delivery", help="folder (default: delivery)")
    p.add_argument("--output", help="a project's output node to deliver (default: its first)")
    p.add_argument("--title", help="tag: title (default: the file's name)")
    p.add_argument("--artist", help="tag: artist")
    p.add_argument("--album", help="tag: album")
    p.add_argument("--list", action="store_true", help="list the profiles and their sources")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("meter", help="measure loudness, peaks, LRA and correlation of files",
                       description="Integrated, short-term and momentary loudness, "
                                   "loudness range, true and sample peak, RMS and phase "
                                   "correlation (ITU-R BS.1770-4, EBU R 128).")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--platforms", action="store_true",
                   help="how far each streaming and podcast platform's normalisation "
                        "would turn each file down or up (from the delivery profiles)")
    p.add_argument("--channel-order", default="", metavar="SPEAKERS",
                   help="a multichannel file's speakers in its order where it has no "
                        "channel mask, e.g. \"L C R Ls Rs LFE\" (default: its mask, else "
                        "L R C LFE Ls Rs Lrs Rrs)")
    p.add_argument("--json", action="store_true", help="print a JSON list")

    p = sub.add_parser("nodes", help="list the node types and their parameters",
                       description="The node catalogue, read from the parameter tables.")
    p.add_argument("type", nargs="?", help="show one node type in full")
    p.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from mixgraph import __version__

        say(f"mixgraph {__version__}")
        return EXIT_OK
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    from mixgraph.errors import MixgraphError

    _stop_on_signals()
    failed = ERROR_STATUS.get(args.command, EXIT_ERROR)
    try:
        return COMMANDS[args.command](args)
    except MixgraphError as exc:
        if args.debug:
            traceback.print_exc()
        say(f"mixgraph: error: {exc.message}", file=sys.stderr)
        return failed
    except KeyboardInterrupt:
        say("mixgraph: interrupted; nothing half-written was left behind", file=sys.stderr)
        _forget_interrupt()
        return EXIT_INTERRUPTED
    except OSError as exc:
        if args.debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        say(f"mixgraph: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return failed
    except Exception as exc:  # a bug in mixgraph, not the user's mistake
        if args.debug:
            traceback.print_exc()
        say(f"mixgraph: internal error: {type(exc).__name__}: {exc} (run with --debug for "
              "the traceback, and please report it)", file=sys.stderr)
        return failed


# ----------------------------------------------------------------------- commands
def cmd_render(args) -> int:
    from mixgraph import load, render
    from mixgraph.nodes.base import Sink

    from .progress import ProgressBar

    graph = load(args.project)
    _compile_kernels(graph, quiet=args.quiet or args.json)
    if args.stems:
        from mixgraph.workflows.stems import render_stems

        bar = ProgressBar(graph.sample_rate, kernels_ready=True) if not args.quiet else None
        try:
            report = render_stems(graph, args.stems, mix_bus=args.mix_bus,
                                  channels=args.stems_channels, block_size=args.block_size,
                                  progress=bar, workers=args.workers)
        finally:
            if bar is not None:
                bar.close()
        _print_report(report, args.json)
        return EXIT_OK
    if args.output is not None and not args.output.strip():
        from mixgraph.errors import ParameterError
        raise ParameterError("-o needs a file or folder to write to")
    paths = _redirect(graph, args.output, Sink) if args.output is not None else None
    bar = ProgressBar(graph.sample_rate, force=False, kernels_ready=True) \
        if not args.quiet else None
    try:
        report = render(graph, block_size=args.block_size, progress=bar, output_paths=paths,
                        allow_outside=True if args.allow_outside else None,
                        workers=args.workers)
    finally:
        if bar is not None:
            bar.close()
    _print_report(report, args.json)
    return EXIT_OK


def _compile_kernels(graph, quiet: bool = False) -> None:
    """Compile the kernels ``graph`` runs that this machine has not compiled yet, on
    every core at once, before the render (which would meet them one at a time):
    once per machine (see :mod:`mixgraph.nodes.kernels.warmup`)."""
    from mixgraph.nodes.kernels.warmup import compile_kernels, graph_kernels, missing

    names = missing(graph_kernels(graph))
    if not names:
        return
    if not quiet and sys.stderr.isatty():
        say(f"first render on this machine: compiling {len(names)} DSP kernel"
            f"{'s' if len(names) != 1 else ''} (once)", file=sys.stderr)
    compile_kernels(names)


def _redirect(graph, out: str, sink_type) -> dict[str, str]:
    """Output paths under ``-o OUT``: a file for one output, a folder for several (made
    by the render, once it has validated the project, as the outputs are written)."""
    sinks = [s for s in graph if s.node_class() is not None
             and issubclass(s.node_class(), sink_type)]
    target = Path(out)
    if len(sinks) == 1 and not (target.is_dir() or out.endswith(("/", "\\"))):
        return {sinks[0].id: str(target)}

    def name(spec) -> str:
        written = [spec.params.get(p) for p in spec.with_role("writes")]
        return Path(str(written[0] if written and written[0] else spec.id)).name

    return {s.id: str(target / name(s)) for s in sinks}


def cmd_validate(args) -> int:
    from mixgraph import load, validate

    graph = load(args.project)
    result = validate(graph)
    if args.json:
        print(json.dumps({"ok": result.ok, "errors": [e.message for e in result.errors],
                          "warnings": result.warnings}, indent=2))
    else:
        for e in result.errors:
            say(f"error: {e.message}", file=sys.stderr)
        for w in result.warnings:
            say(f"warning: {w}", file=sys.stderr)
        if result.ok:
            sinks = sum(1 for s in graph if s.type == "output")
            say(f"{args.project}: ok ({len(graph)} nodes, {len(graph.links)} links, "
                  f"{sinks} output{'s' if sinks != 1 else ''})")
        else:
            n = len(result.errors)
            say(f"{args.project}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_ERROR


def cmd_demo(args) -> int:
    from mixgraph import render

    from mixgraph.workflows.demo import write_demo
    from .progress import ProgressBar

    folder = Path(args.dir)
    graph = write_demo(folder)
    if not args.json:
        say(f"wrote demo stems, {graph.path} and, mixed in 5.1, "
            f"{graph.path.parent / 'surround.mgraph'}")
    _compile_kernels(graph, quiet=args.json)
    bar = ProgressBar(graph.sample_rate, kernels_ready=True)
    try:
        report = render(graph, progress=bar)
    finally:
        bar.close()
    _print_report(report, args.json)
    if not args.json:
        say(f"render it again with: mixgraph render {graph.path}")
    return EXIT_OK


def cmd_batch(args) -> int:
    from mixgraph.workflows.batch import batch
    from mixgraph.workflows.overrides import combine_sets, parse_set
    from .progress import BatchProgress

    overrides = combine_sets(parse_set(text) for text in args.overrides)
    bar = BatchProgress() if not args.quiet and not args.json else None
    try:
        report = batch(args.template, args.songs, args.output, workers=args.workers,
                       scheduler=args.scheduler, variants=args.variants,
                       overrides=overrides, block_size=args.block_size, force=args.force,
                       progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        say(report.format())
    return EXIT_OK if report.ok else EXIT_JOBS_FAILED


LONG_NUMBER = re.compile(r"\d{25,}")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (an escape sequence in a file
    name could clear the screen) shown as ``\\xNN``, and numbers of more than 24
    digits shortened."""
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return LONG_NUMBER.sub(lambda m: f"{m.group()[:12]}... ({len(m.group())} digits)", text)


def say(*parts, file=None, **kwargs) -> None:
    """``print``, through :func:`printable` (everything but JSON goes this way)."""
    print(*(printable(str(p)) for p in parts), file=file, **kwargs)


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a closed terminal) stop a command as Ctrl-C does: what it
    was writing is removed and its workers stopped, instead of the process ending
    with hidden partial files and temporary folders left behind."""
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _interrupt)


def _forget_interrupt() -> None:
    """Let the process end with the status returned.  Where the stop came while Python
    ran a string through ``exec`` (scipy and the standard library set modules up that
    way), CPython notes a KeyboardInterrupt left unhandled, and ``python -m mixgraph``
    would end by SIGINT whatever it returns; running another string clears the note."""
    exec("None")


def _interrupt(signum, frame):
    """Stop as Ctrl-C does; further SIGTERMs and SIGHUPs (a process group signalled
    again) are ignored, so they cannot break into the clean-up this one starts."""
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise KeyboardInterrupt


def cmd_new(args) -> int:
    from mixgraph import save
    from mixgraph.errors import ParameterError, ProjectFileError
    from mixgraph.workflows.binding import bind, parse_assignments
    from mixgraph.workflows.templates import load_template

    target = Path(args.output)
    if target.exists() and not args.force:
        raise ProjectFileError(f"{target} exists; pass --force to replace it")
    assign = parse_assignments(args.assign)
    if args.sample_rate is not None and not 8000 <= args.sample_rate <= 384000:
        raise ParameterError(f"--sample-rate must be between 8000 and 384000 Hz, "
                             f"got {args.sample_rate}")
    template = load_template(args.template)
    folder = target.absolute().parent
    graph, binding = bind(template, Path(args.stems), folder, assign=assign,
                          ignore=args.ignore, leave_out=args.leave_out,
                          sample_rate=args.sample_rate)
    if not any(s.type == "stem" for s in graph):
        ignored = "; ".join(f"{f.file} ({f.why})" for f in binding.of("ignored"))
        raise ProjectFileError(f"no file in {args.stems} fits the template "
                               f"{args.template!r}; nothing was written"
                               + (f" (ignored: {ignored}; bind one with --assign "
                                  "FILE=SLOT)" if ignored else ""))
    made = [d for d in reversed(folder.parents) if not d.exists()] + \
        ([folder] if not folder.exists() else [])
    folder.mkdir(parents=True, exist_ok=True)
    try:
        save(graph, target)
    except BaseException:
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                break
        raise
    if args.json:
        print(json.dumps(dict(binding.to_dict(), project=str(target)), indent=2))
    else:
        for line in binding.lines():
            say(line)
        say(f"wrote {target} ({len(graph)} nodes); render it with: mixgraph render {target}")
    return EXIT_OK


def cmd_templates(args) -> int:
    from mixgraph.workflows.templates import list_templates, user_dir

    found = list_templates()
    if args.json:
        print(json.dumps([{"name": t.name, "source": t.source, "path": str(t.path),
                           "description": t.description} for t in found], indent=2))
        return EXIT_OK
    width = max((len(t.name) for t in found), default=0)
    for t in found:
        say(f"{t.name:<{width}}  {t.source:<7}  {t.description}")
    say(f"(user templates live in {user_dir()})")
    return EXIT_OK


def cmd_template(args) -> int:
    from mixgraph import load

    from mixgraph.workflows.templates import save_user_template

    target = save_user_template(load(args.project), args.name, args.description,
                                overwrite=args.force)
    say(f"saved template {args.name!r} to {target}")
    return EXIT_OK


def cmd_version(args) -> int:
    from mixgraph.workflows.versions import list_versions, restore_version, save_version

    project = Path(args.project)
    if args.action == "save":
        v = save_version(project, args.name)
        say(f"saved version {v.id} ({v.path})")
    elif args.action == "list":
        versions = list_versions(project)
        if not versions:
            say(f"{project} has no versions yet; keep one with: mixgraph version save "
                  f"{project} NAME")
        for i, v in enumerate(versions, start=1):
            say(f"{i:>3}  {v.created:%Y-%m-%d %H:%M:%S}  {v.name or '-':<24}  {v.id}")
    else:
        chosen, backup = restore_version(project, args.id)
        say(f"restored {chosen.id}; what was there is kept as version {backup.id}")
    return EXIT_OK


def cmd_diff(args) -> int:
    from mixgraph import load

    from mixgraph.workflows.diff import diff

    changes = diff(load(args.a), load(args.b))
    if not changes:
        say("no changes (layout aside)")
    for line in changes:
        say(line)
    return EXIT_DIFFERENT if changes else EXIT_SAME


def cmd_play(args) -> int:
    from mixgraph.errors import ParameterError
    from mixgraph.workflows.playback import play

    from .progress import PlayStatus

    if not 16 <= args.buffer <= 8192:
        raise ParameterError(f"--buffer {args.buffer} is out of range: use 16 to 8192 frames")
    device = int(args.device) if args.device is not None and args.device.isdigit() \
        else args.device
    line = PlayStatus(force=False) if not args.json else None
    try:
        played = play(args.project, start_s=args.start, end_s=args.end, loop=args.loop,
                      listen=args.listen, device=device, buffer_frames=args.buffer,
                      status=line)
    finally:
        if line is not None:
            line.close()
    if args.json:
        print(json.dumps(played, indent=2))
    else:
        say(f"played {played['played_s']:.1f} s of {played['listen']} on "
            f"{played['device']} ({played['buffer_frames']} frames), "
            f"{played['underruns']} underrun{'s' if played['underruns'] != 1 else ''}"
            + (f" ({played['device_underflows']} the sound server's own)"
               if played["device_underflows"] else "") + ", "
            f"CPU load {played['cpu_load'] * 100:.0f}%; heard {_lufs(played)}")
    return EXIT_OK


def _lufs(played: dict) -> str:
    i, tp = played.get("integrated_lufs"), played.get("true_peak_dbtp")
    if i is None:
        return "silence (or too little to measure)"
    return f"{i:.1f} LUFS integrated, true peak {tp:.1f} dBTP"


def cmd_edit(args) -> int:
    try:
        from mixgraph.editor.app import main as editor_main
    except ImportError as exc:
        from mixgraph.errors import MixgraphError
        raise MixgraphError(f"the editor needs Dear PyGui ({exc}); "
                            "install it with: pip install dearpygui") from None
    return editor_main(args.project)


def cmd_album(args) -> int:
    from mixgraph.workflows.album import load_album, new_album, render_album
    from mixgraph.core.fileformat import write_document
    from .progress import ProgressBar

    if args.action == "new":
        doc = new_album(Path(args.folder), gap_s=args.gap, mode=args.mode,
                        target_lufs=args.target)
        target = Path(args.output)
        # song sources are written relative to the album file's folder
        folder = Path(args.folder).resolve()
        for song in doc["album"]["songs"]:
            song["source"] = Path(os.path.relpath(folder / song["source"],
                                                  target.resolve().parent)).as_posix()
        write_document(doc, target)
        say(f"wrote {target} with {len(doc['album']['songs'])} songs; render it with: "
              f"mixgraph album render {target}")
        return EXIT_OK
    album = load_album(args.album)
    out = Path(args.output) if args.output else Path(args.album).resolve().parent / "out"
    bar = ProgressBar(album.sample_rate, label="album")
    bar.sample_rate = 1                        # progress here counts steps, not samples
    started = time.perf_counter()
    try:
        report = render_album(album, out, progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(dict(report.to_dict(), seconds=round(time.perf_counter() - started, 2)),
                         indent=2))
    else:
        say(report.format())
        say(f"rendered in {time.perf_counter() - started:.1f} s into {out}")
    return EXIT_OK


def cmd_deliver(args) -> int:
    import tempfile

    from mixgraph.errors import MixgraphError
    from mixgraph.workflows.delivery import deliver, find_profiles, profiles_table

    if args.list:
        rows = profiles_table()
        if args.json:
            print(json.dumps(rows, indent=2))
            return EXIT_OK
        for r in rows:
            target = "master's own" if r["target_lufs"] is None else f"{r['target_lufs']:g} LUFS"
            ceiling = "-" if r["ceiling_dbtp"] is None else f"{r['ceiling_dbtp']:g} dBTP"
            say(f"{r['name']:<15} {target:<13} {ceiling:<10} {', '.join(r['files'])}  "
                f"({r['origin']}; {r['source']}, as of {r['as_of']})")
        return EXIT_OK
    if not args.source or not args.profile:
        raise MixgraphError("deliver needs a SOURCE and --profile NAME[,NAME...] "
                            "(mixgraph deliver --list shows the profiles)")
    profiles = find_profiles([n.strip() for n in args.profile.split(",") if n.strip()])
    source = Path(args.source)
    tags = {"title": args.title or source.stem, "artist": args.artist, "album": args.album}
    with tempfile.TemporaryDirectory(prefix="mixgraph-deliver-") as scratch:
        if _is_album(source):
            report = _deliver_album(source, profiles, args, Path(scratch))
        else:
            if source.suffix == ".mgraph":
                source = _project_master(source, args.output, Path(scratch))
            report = deliver(source, profiles, args.output_dir, name=Path(args.source).stem,
                             tags=tags)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        say(report.format())
    return EXIT_OK if report.passed else EXIT_ERROR


def _is_album(path: Path) -> bool:
    """Whether a file is an album document (``"kind": "album"``)."""
    from mixgraph.core.fileformat import read_plain

    if path.suffix not in (".mgraph", ".json"):
        return False
    doc = read_plain(path)
    return isinstance(doc, dict) and doc.get("kind") == "album"


def _deliver_album(path: Path, profiles, args, folder: Path):
    """An album rendered once (its songs, mastered), then its songs delivered to each
    profile in the album's loudness mode."""
    from mixgraph.workflows.album import load_album, render_album
    from mixgraph.workflows.delivery import deliver_album

    album = load_album(path)
    rendered = render_album(album, folder)
    tags = {"artist": args.artist or album.artist, "album": args.album or album.title}
    return deliver_album(album, rendered, profiles, args.output_dir, tags=tags)


def _project_master(project: Path, output: str | None, folder: Path) -> Path:
    """A project's output (``output``, else its first), rendered into ``folder`` as a
    float WAV: the master to deliver."""
    from mixgraph import load, render
    from mixgraph.errors import MixgraphError

    graph = load(project)
    sinks = [s.id for s in graph if s.with_role("writes")]
    chosen = output or (sinks[0] if sinks else None)
    if chosen not in sinks:
        raise MixgraphError(f"{project} has no output {chosen!r} (outputs: "
                            f"{', '.join(sinks) or 'none'})")
    graph.set(chosen, "subtype", "FLOAT")
    target = folder / f"{project.stem}.wav"
    render(graph, output_paths={chosen: str(target)}, allow_outside=True)
    return target


def cmd_meter(args) -> int:
    from mixgraph.nodes.meters import meter_file


    results = [meter_file(Path(f), order=args.channel_order) for f in args.files]
    if args.platforms:
        from mixgraph.workflows.delivery import platform_gains

        for r in results:
            r["platforms"] = platform_gains(r["integrated_lufs"])
    if args.json:
        from mixgraph.core.report import json_number

        print(json.dumps([json_number(r) for r in results], indent=2))
        return EXIT_OK
    for r in results:
        say(format_loudness(r))
        if args.platforms:
            from mixgraph.workflows.delivery import platforms_line

            say("  " + platforms_line(r["integrated_lufs"]))
    return EXIT_OK


def format_loudness(r: dict) -> str:
    """A file's figures as a readable block."""
    def num(v, unit):
        return "-inf" if v is None or v == float("-inf") else f"{v:.1f} {unit}"
    corr = "n/a (mono)" if r.get("correlation") is None else f"{r['correlation']:+.2f}"
    if r.get("correlation_min") is not None:
        corr += f" (lowest {r['correlation_min']:+.2f})"
    from mixgraph.nodes.layouts import layout_name

    chans = layout_name(r["channels"])
    clipped = (f"   CLIPPED {r['clipped_samples']:,} samples at full scale"
               if r.get("clipped_samples") else "")
    return "\n".join([
        f"{r['path']}  ({r['duration_s']:.2f} s, {r['format'].upper()} {r['subtype']}, "
        f"{r['sample_rate'] / 1000:g} kHz, {chans}){clipped}",
        f"  integrated {num(r['integrated_lufs'], 'LUFS')}   short-term max "
        f"{num(r['short_term_max_lufs'], 'LUFS')}   momentary max "
        f"{num(r['momentary_max_lufs'], 'LUFS')}   range {r['lra_lu']:.1f} LU",
        f"  true peak {num(r['true_peak_dbtp'], 'dBTP')}   sample peak "
        f"{num(r['sample_peak_dbfs'], 'dBFS')}   RMS {num(r['rms_dbfs'], 'dBFS')}   "
        + (f"correlation {corr}" if r["channels"] <= 2 else "(LFE not counted in loudness)")]
        + (["  true peak per channel: " + "   ".join(
            f"{speaker} {num(p['true_peak_dbtp'], 'dBTP')}"
            for speaker, p in r["channel_peaks"].items())] if r.get("channel_peaks") else []))


def cmd_nodes(args) -> int:
    from mixgraph.nodes.base import node_class, node_types

    types = node_types()
    if args.type:
        types = {args.type: node_class(args.type)}
    if args.json:
        print(json.dumps({name: _describe(cls) for name, cls in types.items()}, indent=2))
        return EXIT_OK
    for name, cls in types.items():
        ins = ", ".join(p.name for p in cls.inputs) or "-"
        outs = ", ".join(p.name for p in cls.outputs) or "-"
        say(f"{name:<10} {cls.summary}   [in: {ins}; out: {outs}]")
        if args.type:
            for p in cls.params:
                rng = p.describe_range()
                auto = ", automatable" if p.automatable else ""
                print(f"    {p.name:<16} default {json.dumps(p.default):<10} {rng}{auto}")
                if p.doc:
                    say(f"    {'':<16} {p.doc}")
    return EXIT_OK


def _describe(cls) -> dict:
    return {
        "summary": cls.summary, "category": cls.category, "version": cls.version,
        "inputs": [p.name for p in cls.inputs], "outputs": [p.name for p in cls.outputs],
        "params": [{"name": p.name, "kind": p.kind, "default": p.default, "min": p.min,
                    "max": p.max, "unit": p.unit, "choices": list(p.choices),
                    "automatable": p.automatable, "doc": p.doc} for p in cls.params],
    }


def _print_report(report, as_json: bool) -> None:
    """The render report (and, in words, what the platforms would do to each output's
    loudness)."""
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    from mixgraph.workflows.delivery import platforms_line

    say(report.format())
    for o in report.outputs:
        line = platforms_line(o.get("integrated_lufs"))
        if line:
            say(f"  {Path(o['path']).name}: {line}")


COMMANDS = {"render": cmd_render, "validate": cmd_validate, "demo": cmd_demo,
            "new": cmd_new, "templates": cmd_templates, "template": cmd_template,
            "version": cmd_version, "diff": cmd_diff, "meter": cmd_meter, "nodes": cmd_nodes,
            "deliver": cmd_deliver,
            "edit": cmd_edit, "album": cmd_album, "batch": cmd_batch, "play": cmd_play}

