"""Fuzzing each sink's escaping with seeded random names (issue 17, item 4).

test_injection.py pushes one hostile string through every command; this pushes thousands, drawn from the
characters that attack some sink (terminal controls and escape sequences, Rich markup, XML 1.0's forbidden
characters, workflow-command separators, Markdown and HTML syntax, bidi overrides, zero-width and tag characters,
astral code points), through the functions each output uses, and judges every result by an independent rule: the
Unicode database for what a terminal would act on, XML 1.0's Char production and a real parser, the Actions
runner's own decoding of %0A/%0D/%25, and GitHub's cmark-gfm for Markdown. The seed is fixed so a failure repeats.
"""

from __future__ import annotations

import html
import io
import random
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET

import pyarrow as pa
import pytest

from inferscope.cli._common import print_table
from inferscope.errors import visible
from inferscope.render.compare import _escape_data, _escape_property, _xml
from inferscope.render.report import md_code, md_text

SEED = 17
CASES = 3000
# Characters that each attack some sink, plus ordinary text so that escapes land between real words.
ATTACK = (
    [chr(c) for c in range(0x20)]
    + ["\x7f", "\x85", "\x9b", "\u00ad", "\u061c", "\u200b", "\u200d", "\u2028", "\u2029", "\u202e", "\u2066"]
    + ["\u206a", "\ufeff", "\ufffe", "\uffff", "\U000e0041", "\U000e007f", "\U0001f600", "\u0600", "\ud7ff"]
    + list("[]/\\<>&\"'`*_|~#!@:,%=;()")
    + ["::", "%0A", "%25", "\x1b[31m", "\x1b]8;;http://e.x\x1b\\", "[link=x]"]
    + ["[/]", "[bold]", "<img src=x onerror=alert(1)>", "<script>", "http://e.x", "www.e.x", "a@b.c", "\r\n"]
)
WORDS = ["kernel", "gemm", "ampere_sgemm", "x", "1", " ", "  ", "décode", "名前"]


def _names(n: int = CASES):
    rnd = random.Random(SEED)
    for _ in range(n):
        yield "".join(rnd.choice(ATTACK if rnd.random() < 0.6 else WORDS) for _ in range(rnd.randint(1, 12)))


def _acts_on_terminal(ch: str) -> bool:
    """What a terminal or a reader's eye would act on or not see: controls, format characters, line separators."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def test_visible_leaves_no_character_a_terminal_acts_on():
    """Every code point Python's Unicode database calls a control, format or separator character is written as an
    escape, and the escape names the code point it replaced."""
    missed = [hex(cp) for cp in range(sys.maxunicode + 1) if _acts_on_terminal(chr(cp)) and visible(chr(cp)) == chr(cp)]
    assert not missed, f"shown raw (Unicode {unicodedata.unidata_version}): {missed[:20]}"
    for cp in (0x1B, 0x9B, 0x202E, 0xE0041):
        shown = visible(chr(cp))
        assert shown.encode().decode("unicode_escape") == chr(cp), (hex(cp), shown)
    for name in _names():
        shown = visible(name)
        assert not [c for c in shown if _acts_on_terminal(c)], repr(shown)
        assert "\n" not in shown
        assert "\n" not in visible(name, keep_newlines=True).replace("\n", "")


def test_terminal_tables_show_every_name_as_text():
    """The stats/query table (Rich): a name is never read as markup (no MarkupError, no tag swallowed) and no
    character a terminal acts on reaches the output."""
    names = list(_names(400))
    table = pa.table({"Name": names, "Instances": list(range(len(names)))})
    out = io.StringIO()
    print_table(table, "table", title="[bold]t\x1b[0m", out=out)
    text = out.getvalue()
    assert not [c for c in text if _acts_on_terminal(c) and c != "\n"], repr(text[:500])
    flat = re.sub(r"\s+", "", re.sub(r"[│┃┏┓┗┛━─┡┩┼╇╋┣┫┳┻╸╺┠┨┯┷└┘┌┐├┤┬┴]", "", text))
    for name in names[:50]:  # long names fold over several lines: compare without layout characters
        assert re.sub(r"\s+", "", visible(name)) in flat, repr(name)


_XML_CHAR = re.compile("[\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def test_junit_text_is_xml_and_parses_back():
    """XML 1.0's Char production, checked on its own and by parsing a document that holds the text as an attribute
    and as element text; the parser returns it unchanged."""
    for name in _names():
        value = _xml(name)
        assert _XML_CHAR.fullmatch(value), repr(value)
        root = ET.Element("testsuite")
        ET.SubElement(root, "testcase", name=value).text = value
        back = ET.fromstring(ET.tostring(root, encoding="unicode"))[0]
        assert back.text == value
        assert (
            back.get("name") == value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
            or back.get("name") == value
        )  # attribute-value normalisation turns whitespace characters into spaces


def _runner_decode(text: str) -> str:
    """How the Actions runner decodes a workflow command's message (toolkit's command.ts, in reverse)."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_annotations_are_one_command_each():
    """A message or title holds no line break (a second line would be a command of its own), decodes to exactly
    what the other outputs show, and a title holds no raw ':' or ',' (which end it)."""
    for name in _names():
        data, prop = _escape_data(name), _escape_property(name)
        for escaped in (data, prop):
            assert "\n" not in escaped and "\r" not in escaped
            assert not [c for c in escaped if _acts_on_terminal(c)], repr(escaped)
        assert ":" not in prop and "," not in prop
        assert _runner_decode(data) == visible(name, keep_newlines=True)
        assert _runner_decode(prop) == visible(name, keep_newlines=True)
        line = f"::warning title={prop}::{data}"
        assert line.count("\n") == 0 and line.count("::") >= 2


def test_markdown_text_renders_as_plain_text():
    """md_text and md_code, rendered by GitHub's cmark-gfm: one paragraph (or code span) of text, with no element
    a name could create (links, images, emphasis, raw HTML, tables), showing the name as the terminal shows it."""
    cmarkgfm = pytest.importorskip("cmarkgfm", reason="cmarkgfm (GitHub's Markdown renderer) is a test extra")
    from cmarkgfm.cmark import Options

    def render(md: str) -> str:
        return cmarkgfm.github_flavored_markdown_to_html(md, options=Options.CMARK_OPT_UNSAFE).strip()

    for name in _names(1000):
        squeezed = visible(" ".join(name.split()))
        text = str(md_text(name))
        assert "\n" not in text and not [c for c in text if _acts_on_terminal(c) and c != "\u200b"]
        rendered = render(f"x {text}")
        tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", rendered))
        assert tags <= {"p"}, (name, rendered)
        shown = html.unescape(re.sub(r"</?p>", "", rendered)).replace("\u200b", "")
        assert shown == f"x {squeezed}".strip(), (name, rendered)
        code = str(md_code(name, limit=10_000))
        if code:
            cell = render(f"| a |\n|---|\n| {code} |")
            assert set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", cell)) <= {
                "table",
                "thead",
                "tbody",
                "tr",
                "th",
                "td",
                "code",
            }, cell
            assert cell.count("<td>") == 1, (name, cell)  # one cell: a '|' in the name did not split the row
