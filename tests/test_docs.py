"""The README and the guide in docs/: every relative link resolves, every #anchor names a
heading (GitHub's slug rule), and the README and each chapter stay short enough to read.

Links are read as GitHub renders Markdown: inline links and images, `[text](target)` and
`![alt](target)`, outside code blocks and code spans. A link to another site is not
followed (the suite never touches the network).
"""

import re

import pytest
from helpers import ROOT

README_MAX_LINES = 260
CHAPTER_MAX_LINES = 420

# A file another issue is writing now, that a page already links to: such a link may point
# ahead of its file until the file lands; once it exists, it is checked like any other.
PENDING = set()

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^\s)>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def pages(root=ROOT):
    """The README and every Markdown file of the guide, as paths."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose_lines(text):
    """(line number, line) of the text outside fenced and indented code blocks."""
    lines, fenced, indented, previous_blank = [], None, False, True
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fenced:
            if fence and fence.group(1) == fenced:
                fenced = None
            continue
        if fence:
            fenced = fence.group(1)
            continue
        blank = not line.strip()
        if not blank and line.startswith(("    ", "\t")) and (
                previous_blank or indented) and not lines_in_list(lines):
            indented = True
        elif not blank:
            indented = False
        previous_blank = blank
        if not indented:
            lines.append((number, line))
    return lines


def lines_in_list(lines):
    """Whether the last prose line before a blank is a list item's (its indented lines are
    the item's continuation, not code)."""
    for _, line in reversed(lines):
        if line.strip():
            return bool(re.match(r"^\s*([-*+]|\d+\.)\s", line)) or line.startswith("  ")
    return False


def slug(heading):
    """GitHub's anchor for a heading: its rendered text, lower case, with every character
    but letters, digits, spaces, hyphens and underscores removed, spaces made hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text
    text = re.sub(r"(\*\*|__|\*)", "", text)  # emphasis marks (an underscore in a word stays)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path):
    """Every anchor the headings of a Markdown file define; repeats get -1, -2, ..."""
    seen, result = {}, set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(path):
    """(line number, target) of every inline link and image of a Markdown file."""
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        line = CODE_SPAN.sub(lambda m: "x" * len(m.group(0)), line)  # a link's text stays
        found += [(number, m.group(2)) for m in LINK.finditer(line)]
    return found


def broken_links(path, root=ROOT, pending=()):
    """One message per link of path that does not resolve, naming the file and line."""
    problems = []
    for number, target in links(path):
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not target:
            problems.append(f"{where}: an empty link")
            continue
        if SCHEME.match(target) or target.startswith("//"):
            continue  # another site: not followed
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
        try:
            name = resolved.relative_to(root.resolve()).as_posix()
        except ValueError:
            problems.append(f"{where}: points outside the repository")
            continue
        if not resolved.exists():
            if name not in pending:
                problems.append(f"{where}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: no heading in {name} has the anchor #{anchor}")
    return problems


def test_every_link_of_the_readme_and_the_guide_resolves():
    problems = [p for page in pages() for p in broken_links(page, pending=PENDING)]
    assert problems == [], "\n".join(problems)


def test_the_guides_index_links_every_chapter():
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / target.partition("#")[0]).resolve() for _, target in links(index)}
    chapters = {p.resolve() for p in (ROOT / "docs").glob("*.md")
                if p != index and not p.name.startswith("notes-")}  # notes: chapters in waiting
    assert sorted(p.name for p in chapters - linked) == []


def test_the_readme_and_every_chapter_are_short_enough_to_read():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES
    long = {p.name: n for p in (ROOT / "docs").glob("*.md")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > CHAPTER_MAX_LINES}
    assert long == {}


def test_the_settings_chapter_lists_every_setting():
    import main  # the block of settings, main.DEFAULTS
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    table = text[text.index("## Every setting"):text.index("## The optimisers")]
    assert [name for name in main.DEFAULTS if f"`{name}`" not in table] == []


def test_the_readme_gives_the_two_set_up_commands_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "    pip install -r requirements.txt && python main.py\n" in readme
    assert "    pip install -r requirements-dev.txt && python -m pytest\n" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-r requirements-dev.txt" in ci and "python -m pytest" in ci


@pytest.mark.parametrize(("heading", "anchor"), [
    ("Resume a stopped run", "resume-a-stopped-run"),
    ("What it depends on, and why", "what-it-depends-on-and-why"),
    ("`--PREDICT` says there are no weights", "--predict-says-there-are-no-weights"),
    ("Inside a network: how each layer learns", "inside-a-network-how-each-layer-learns"),
    ("**Bold** and `update_stats`", "bold-and-update_stats"),
])
def test_anchors_follow_githubs_slug_rule(heading, anchor):
    assert slug(heading) == anchor


def test_the_checker_finds_a_missing_file_a_missing_anchor_and_ignores_code(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"")
    (tmp_path / "docs" / "one.md").write_text(
        "# One\n\n## Same\n\n## Same\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# Front\n\n"
        "[fine](docs/one.md#same-1) ![fine](images/a.png) [here](#front) [web](https://x.y/z)\n"
        "[gone](docs/two.md) ![gone](images/b.png) [bad anchor](docs/one.md#other)\n"
        "[ahead](docs/later.ipynb) [out](../elsewhere.md) [self](#nowhere)\n\n"
        "    [in an indented code block](nothing.md)\n\n"
        "```\n[in a fence](nothing.md)\n```\n"
        "and `[in a code span](nothing.md)`\n", encoding="utf-8")
    problems = broken_links(tmp_path / "README.md", root=tmp_path, pending={"docs/later.ipynb"})
    assert [p.split(": ", 1)[0] for p in problems] == ["README.md:4"] * 3 + ["README.md:5"] * 2
    assert [p.rsplit(": ", 1)[1] for p in problems] == [
        "no such file", "no such file", "no heading in docs/one.md has the anchor #other",
        "points outside the repository", "no heading in README.md has the anchor #nowhere"]
