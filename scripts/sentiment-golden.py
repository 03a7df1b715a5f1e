#!/usr/bin/env python3
r"""Regenerates src/ai/sentiment/golden/golden.tsv: the VADER 3.3.2 reference's scores of every text
in src/ai/sentiment/golden/sentences.txt, which the Rust port's golden test must match exactly.

Installs nothing itself. Run it once, in a throwaway virtual environment:

    python3 -m venv /tmp/vader-venv
    /tmp/vader-venv/bin/pip install vaderSentiment==3.3.2
    /tmp/vader-venv/bin/python scripts/sentiment-golden.py

Python 3.11 or older: from 3.12 on, `sum()` of floats uses compensated summation, which can move
the last bits of VADER's sum (the port adds left to right, as 3.3.2 did under the Pythons of its
time); the script refuses a newer interpreter unless given --any-python.

sentences.txt: one text per line; lines starting with "# " are comments and empty lines are
skipped; "<empty>" is the empty text; "<repeat N>TEXT" is TEXT repeated N times; the escapes
\\ \n \t \r and \u{HEX} stand for a backslash, newline, tab, carriage return and any character.

golden.tsv: "compound<TAB>pos<TAB>neu<TAB>neg<TAB>text" per text, numbers as Python prints the
rounded floats, the text escaped the same way (any other control or space character as \u{HEX}).
"""

import re
import sys
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "src/ai/sentiment/golden"
SIMPLE = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def unescape(line):
    def one(m):
        if m.group(1) is not None:
            return chr(int(m.group(1), 16))
        return SIMPLE[m.group(2)]

    return re.sub(r"\\(?:u\{([0-9A-Fa-f]+)\}|([\\ntr]))", one, line)


def escape(text):
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        elif (c.isspace() and c != " ") or ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def texts(path):
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line == "" or line.startswith("# "):
            continue
        if line == "<empty>":
            yield ""
            continue
        repeat = re.match(r"<repeat (\d+)>", line)
        if repeat:
            yield unescape(line[repeat.end():]) * int(repeat.group(1))
        else:
            yield unescape(line)


def main():
    if sys.version_info >= (3, 12) and "--any-python" not in sys.argv:
        sys.exit("needs Python <= 3.11 (see the header), or pass --any-python")
    analyzer = SentimentIntensityAnalyzer()
    rows = []
    for text in texts(GOLDEN / "sentences.txt"):
        s = analyzer.polarity_scores(text)
        rows.append("\t".join([repr(s["compound"]), repr(s["pos"]), repr(s["neu"]),
                               repr(s["neg"]), escape(text)]))
    header = ("# VADER 3.3.2 (vaderSentiment on PyPI) under Python %d.%d.%d, written by "
              "scripts/sentiment-golden.py\n# compound\tpos\tneu\tneg\ttext\n"
              % sys.version_info[:3])
    (GOLDEN / "golden.tsv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    print("%d texts" % len(rows))


if __name__ == "__main__":
    main()
