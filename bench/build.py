"""Benchmark building one issue, and compare it with the reference Node MJML compiler.

What it measures, all on the example issue ``issues/2026-11-27.yaml`` (``--issue``):

* **Whole-process build**: ``newsletter build ISSUE --out TMP`` with the venv's
  console script (the folder of ``sys.executable``), in a copy of the example desk
  whose only issue is ISSUE (a one-issue build: in the repository the command
  would render every ready issue). Its ``email.html`` is compared with the
  in-process render of the same issue, found by the issue's slug. One
  untimed warm-up run, then the median and minimum of ``--runs`` runs (default
  7), each into a fresh temporary ``--out`` folder. This includes interpreter
  start-up, imports, reading and validating the YAML, measuring and writing the
  pictures, and rendering email + text + web page. For scale, the start-up and
  import cost alone (``python -c "import newsletter.cli"``) is timed the same way.
* **In-process render**: ``api.render_issue`` (read + validate YAML, measure
  pictures, render email + text + web in memory) with one reused ``Renderer``;
  one warm-up, then the median and minimum of ``--renders`` renders (default 30).
  The MJML -> HTML step alone (``newsletter.render.email.compile_mjml``, i.e.
  mjml-python) is timed the same way on the captured MJML.
* **Reference Node MJML**: if ``npm`` and ``node`` are on PATH, ``mjml@4`` is
  installed into a temporary folder (``npm install --prefix``). The MJML our
  templates produce is captured by wrapping ``newsletter.render.compile_mjml``,
  normalised exactly as ``newsletter/render/email.py`` does before compiling, and
  written to ``input.mjml``. Then ``node .../mjml/bin/mjml input.mjml -o out.html``
  is timed whole-process (warm-up + median of ``--runs``), and a small Node script
  times ``mjml2html`` in-process (warm-up + median of ``--renders``). Ratios:
  our whole build / Node MJML CLI (email only; target <= 0.3x), and in-process
  ratios for our full render and for our MJML compile alone. If npm is missing
  or the install fails, this part is skipped with a message.
* **Sizes**: email HTML (target < 60 KB = 61,440 bytes), its gzip size, the plain
  text and the web page, in UTF-8 bytes, from the in-process render (checked
  against the ``email.html`` the whole-process build wrote).

The package is compiled first and every process runs without
``PYTHONDONTWRITEBYTECODE``, with bytecode as an installed wheel has it.

Run:  .venv/bin/python bench/build.py [--runs N] [--renders N] [--json] [--no-node]

The script prints a table (name, value, unit, target, pass/fail) and the tool
versions; ``--json`` also prints the results as JSON. It exits 0 unless our own
build fails; missed targets show as FAIL in the table. Every subprocess has a
timeout and every temporary folder is removed.
"""

from __future__ import annotations

import argparse
import compileall
import gzip
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _common import BenchError, Figure, Timing, copy_example_desk, run, table, time_calls

import newsletter
import newsletter.render
from newsletter import api
from newsletter.render import Renderer
from newsletter.render import email as email_module

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ISSUE = Path("issues/2026-11-27.yaml")
EMAIL_SIZE_LIMIT = 60 * 1024  # bytes
BUILD_RATIO_TARGET = 0.3  # our whole build / Node MJML CLI, whole process
MJML_PACKAGE = "mjml@4"

BUILD_TIMEOUT = 120.0  # seconds, one `newsletter build`
NODE_RUN_TIMEOUT = 120.0  # seconds, one `node mjml` run
NPM_TIMEOUT = 600.0  # seconds, `npm install`
VERSION_TIMEOUT = 30.0

# Times mjml2html in-process. argv: mjml package folder, input file, iterations.
NODE_SCRIPT = r"""
const fs = require("fs");
const [mjmlDir, input, count] = process.argv.slice(2);
const mjml2html = require(mjmlDir);
const source = fs.readFileSync(input, "utf8");
const options = { validationLevel: "soft" };
async function once() {
  return await mjml2html(source, options);  // mjml 4 is sync, mjml 5 returns a promise
}
(async () => {
  const first = await once();
  const times = [];
  for (let i = 0; i < Number(count); i++) {
    const start = process.hrtime.bigint();
    await once();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  process.stdout.write(JSON.stringify({
    times_ms: times,
    html_bytes: Buffer.byteLength(first.html, "utf8"),
    errors: (first.errors || []).map((e) => e.formattedMessage || e.message || String(e)),
  }));
})().catch((err) => { console.error(err && err.stack || String(err)); process.exit(1); });
"""




def time_process(cmd_for_run: Callable[[int], Sequence[str | Path]], runs: int, *,
                 cwd: Path | None = None, timeout: float) -> Timing:
    """Whole-process wall time: one untimed warm-up, then `runs` timed runs."""
    run(cmd_for_run(0), cwd=cwd, timeout=timeout)
    times = []
    for index in range(1, runs + 1):
        cmd = cmd_for_run(index)
        start = time.perf_counter()
        run(cmd, cwd=cwd, timeout=timeout)
        times.append((time.perf_counter() - start) * 1000)
    return Timing.of(times)


def capture_mjml(issue_path: Path, settings: Any) -> tuple[str, Any, Any]:
    """Render the issue once, keeping the MJML handed to the compiler: (MJML, the
    issue, its rendered outputs)."""
    captured: list[str] = []
    package: Any = newsletter.render  # compile_mjml is imported there, not exported
    original = package.compile_mjml

    def spy(source: str, *, template: str) -> str:
        captured.append(source)
        html: str = original(source, template=template)
        return html

    package.compile_mjml = spy
    try:
        issue, rendered = api.render_issue(issue_path, settings, renderer=Renderer(settings))
    finally:
        package.compile_mjml = original
    if len(captured) != 1:
        raise BenchError(f"expected one MJML compile per render, saw {len(captured)}")
    return captured[0], issue, rendered


def one_issue_desk(folder: Path, issue: Path) -> Path:
    """A copy of the example desk in `folder` whose only issue is `issue`: its build
    is a one-issue build (a build in the repository would render every issue)."""
    desk = copy_example_desk(folder)
    for other in (desk / "issues").glob("*.yaml"):
        if other.name != issue.name:
            other.unlink()
    return desk


def normalise(source: str) -> str:
    """The whitespace normalisation newsletter/render/email.py applies before compiling."""
    return email_module._GAP_BETWEEN_TAGS.sub(">\n", source)


def bench_ours(issue: Path, runs: int, renders: int, figures: list[Figure],
               results: dict[str, Any]) -> tuple[str, Timing]:
    """Time our whole-process build and in-process render; record sizes. Returns the MJML."""
    script = Path(sys.executable).parent / "newsletter"
    if not script.exists():
        raise BenchError(f"no newsletter console script next to {sys.executable}")
    settings = api.load_desk(REPO / issue)

    mjml_source, parsed, rendered = capture_mjml(REPO / issue, settings)
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        out = Path(tmp) / "out"
        desk = one_issue_desk(Path(tmp), issue)
        whole = time_process(lambda i: [script, "build", issue, "--out", out / f"run{i}"],
                             runs, cwd=desk, timeout=BUILD_TIMEOUT)
        # the same issue as the in-process render: found by its slug, not by glob order
        built_email = out / "run0" / "issues" / parsed.slug / "email.html"
        built_bytes = built_email.read_bytes() if built_email.is_file() else None
    startup = time_process(lambda _: [sys.executable, "-c", "import newsletter.cli"], runs,
                           cwd=REPO, timeout=BUILD_TIMEOUT)

    renderer = Renderer(settings)
    render = time_calls(lambda: api.render_issue(REPO / issue, settings, renderer=renderer),
                        renders)
    compile_only = time_calls(
        lambda: email_module.compile_mjml(mjml_source, template="bench"), renders)

    email = rendered.email_html.encode()
    sizes = {"email": len(email), "email_gzip": len(gzip.compress(email, compresslevel=9)),
             "text": len(rendered.text.encode()), "web": len(rendered.web_html.encode()),
             "mjml": len(mjml_source.encode())}
    if built_bytes is None:
        raise BenchError(f"the build wrote no issues/{parsed.slug}/email.html")
    if built_bytes != email:
        print(f"note: the built email.html ({len(built_bytes):,} bytes) differs from the "
              f"in-process render ({len(email):,} bytes)", file=sys.stderr)

    figures += [
        Figure(f"newsletter build, one-issue desk, whole process (median of {whole.runs})",
               round(whole.median_ms, 1), "ms"),
        Figure("newsletter build, whole process (min)", round(whole.min_ms, 1), "ms"),
        Figure(f"python -c 'import newsletter.cli' (median of {startup.runs})",
               round(startup.median_ms, 1), "ms"),
        Figure(f"render_issue in-process, email+text+web (median of {render.runs})",
               round(render.median_ms, 2), "ms"),
        Figure("render_issue in-process (min)", round(render.min_ms, 2), "ms"),
        Figure(f"MJML->HTML mjml-python in-process (median of {compile_only.runs})",
               round(compile_only.median_ms, 2), "ms"),
        Figure("MJML->HTML mjml-python in-process (min)", round(compile_only.min_ms, 2), "ms"),
        Figure("email HTML size", sizes["email"], "bytes", f"< {EMAIL_SIZE_LIMIT:,}",
               sizes["email"] < EMAIL_SIZE_LIMIT),
        Figure("email HTML size, gzip -9", sizes["email_gzip"], "bytes"),
        Figure("plain-text size", sizes["text"], "bytes"),
        Figure("web page size", sizes["web"], "bytes"),
        Figure("MJML source size", sizes["mjml"], "bytes"),
    ]
    results.update(build_whole_process=asdict(whole), python_import_cli=asdict(startup),
                   render_in_process=asdict(render), mjml_python_compile=asdict(compile_only),
                   sizes_bytes=sizes)
    return mjml_source, whole


def bench_node(mjml_source: str, ours_whole: Timing, ours_render: dict[str, Any],
               ours_compile: dict[str, Any], runs: int, renders: int, figures: list[Figure],
               results: dict[str, Any], versions: dict[str, str]) -> None:
    """Install mjml@4 into a temporary folder and time it; skip cleanly without npm."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        print(f"Node MJML comparison skipped: {'npm' if not npm else 'node'} is not on PATH")
        results["node"] = {"skipped": "npm or node not on PATH"}
        return
    versions["node"] = run([node, "--version"], timeout=VERSION_TIMEOUT).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-mjml-") as tmp:
        folder = Path(tmp)
        print(f"installing {MJML_PACKAGE} with npm into a temporary folder...", file=sys.stderr)
        try:
            run([npm, "install", "--prefix", folder, MJML_PACKAGE, "--no-audit", "--no-fund",
                 "--loglevel=error"], timeout=NPM_TIMEOUT)
        except BenchError as exc:
            print(f"Node MJML comparison skipped: npm install {MJML_PACKAGE} failed: {exc}")
            results["node"] = {"skipped": f"npm install failed: {exc}"}
            return
        package = folder / "node_modules" / "mjml"
        cli = package / "bin" / "mjml"
        version = json.loads((package / "package.json").read_text())["version"]
        versions["mjml (Node)"] = version

        source = folder / "input.mjml"
        source.write_text(normalise(mjml_source), encoding="utf-8")
        output = folder / "out.html"
        try:
            strict = run([node, cli, source, "--config.validationLevel=strict", "-s"],
                         timeout=NODE_RUN_TIMEOUT)
            if strict.stderr.strip():
                print(f"Node MJML (strict) warnings:\n{strict.stderr.strip()}")
            whole = time_process(lambda _: [node, cli, source, "-o", output], runs,
                                 timeout=NODE_RUN_TIMEOUT)
            node_bytes = output.stat().st_size
            script = folder / "bench.js"
            script.write_text(NODE_SCRIPT, encoding="utf-8")
            timeout = NODE_RUN_TIMEOUT + 5.0 * renders
            report = json.loads(run([node, script, package, source, str(renders)],
                                    timeout=timeout).stdout)
        except BenchError as exc:
            print(f"Node MJML refused our MJML or failed to run: {exc}")
            results["node"] = {"failed": str(exc), "mjml_version": version}
            return
    in_process = Timing.of(report["times_ms"])
    if report["errors"]:
        print("Node MJML validation messages:\n  " + "\n  ".join(report["errors"]))

    ratio_whole = ours_whole.median_ms / whole.median_ms
    ratio_render = ours_render["median_ms"] / in_process.median_ms
    ratio_compile = ours_compile["median_ms"] / in_process.median_ms
    figures += [
        Figure(f"Node MJML {version} CLI, whole process (median of {whole.runs})",
               round(whole.median_ms, 1), "ms"),
        Figure("Node MJML CLI, whole process (min)", round(whole.min_ms, 1), "ms"),
        Figure(f"Node mjml2html in-process (median of {in_process.runs})",
               round(in_process.median_ms, 2), "ms"),
        Figure("Node mjml2html in-process (min)", round(in_process.min_ms, 2), "ms"),
        Figure("Node MJML email HTML size (unminified)", node_bytes, "bytes"),
        Figure("ratio: our whole build / Node MJML CLI (email only)", round(ratio_whole, 3),
               "x", f"<= {BUILD_RATIO_TARGET}", ratio_whole <= BUILD_RATIO_TARGET),
        Figure("ratio: our in-process render (3 outputs) / Node mjml2html",
               round(ratio_render, 3), "x"),
        Figure("ratio: mjml-python compile / Node mjml2html (in-process)",
               round(ratio_compile, 3), "x"),
    ]
    results["node"] = {
        "mjml_version": version, "cli_whole_process": asdict(whole),
        "mjml2html_in_process": asdict(in_process), "html_bytes": node_bytes,
        "validation_messages": report["errors"], "ratio_build_vs_cli": ratio_whole,
        "ratio_render_vs_mjml2html": ratio_render, "ratio_compile_vs_mjml2html": ratio_compile,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7,
                        help="timed whole-process runs (default 7, after one warm-up)")
    parser.add_argument("--renders", type=int, default=30,
                        help="timed in-process renders (default 30, after one warm-up)")
    parser.add_argument("--issue", type=Path, default=DEFAULT_ISSUE,
                        help=f"issue file, relative to the repository (default {DEFAULT_ISSUE})")
    parser.add_argument("--no-node", action="store_true", help="skip the Node MJML comparison")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.renders < 1:
        parser.error("--runs and --renders must be at least 1")
    # as an installed wheel runs (this machine's environment sets PYTHONDONTWRITEBYTECODE,
    # which makes every process compile the package again): see bench/startup.py
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(REPO / "newsletter", quiet=1)

    versions = {
        "python": platform.python_version(),
        "newsletter": newsletter.__version__,
        "mjml-python": importlib.metadata.version("mjml-python"),
    }
    figures: list[Figure] = []
    results: dict[str, Any] = {"issue": str(args.issue), "runs": args.runs,
                               "renders": args.renders}
    try:
        mjml_source, whole = bench_ours(args.issue, args.runs, args.renders, figures, results)
    except BenchError as exc:
        print(f"our build failed: {exc}", file=sys.stderr)
        return 1
    if args.no_node:
        print("Node MJML comparison skipped: --no-node")
        results["node"] = {"skipped": "--no-node"}
    else:
        bench_node(mjml_source, whole, results["render_in_process"],
                   results["mjml_python_compile"], args.runs, args.renders, figures, results,
                   versions)

    print(f"\nIssue: {args.issue}   ({platform.platform()})")
    print("Versions: " + ", ".join(f"{name} {value}" for name, value in versions.items()))
    print()
    print(table(figures))
    if args.json:
        results["versions"] = versions
        results["figures"] = [asdict(fig) for fig in figures]
        print()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
