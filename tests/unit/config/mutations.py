"""Damaged copies of real config files, the input of the fuzz tests of the parser and loader.

`mutated_corpus` edits whole lines (insert, delete, duplicate, swap, re-indent, a directive
with an odd value, a few random bytes). `damaged_config` adds what an editor, a bad copy
and paste or a hostile file does besides: bit flips, huge and malformed numbers, address
ranges of every size, the address forms inet_aton reads its own way, NULs, invalid UTF-8,
control characters and very long lines. Long and repeated content is built from a few
drawn choices, so hypothesis can shrink a failure to a short description.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

from tests.unit.config.helpers import CONFIGS, REPO, SAMPLES

CORPUS_FILES = [*sorted((CONFIGS / "valid").glob("*.cf")), *SAMPLES,
                REPO / "conf" / "demo" / "ldirectord.cf"]
CORPUS = [p.read_bytes() for p in CORPUS_FILES]
CORPUS_LINES = sorted({line for text in CORPUS for line in text.splitlines() if line.strip()})
DIRECTIVES = sorted({
    line.split(b"=", 1)[0].strip() for line in CORPUS_LINES if b"=" in line
} | {b"virtual", b"virtual6", b"real", b"real6", b"timeout", b"connecttimeout",
     b"supervised", b"schedflags", b"load"})
VALUES = st.one_of(
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"yes", b"no", b"0", b"1", b"65536", b'""', b'"x"', b"10.0.0.1:80",
                     b"[::1]:80", b"localhost", b"10.0.0.1->10.0.0.9:80 gate",
                     b"10.0.0.[1-3] masq 2", b'10.0.0.2 gate "a", "(b"', b"l:1 u:2",
                     b"none,running", b"http", b"fwm", b"-1", b"9" * 30]),
)
INDENTS = st.sampled_from([b"", b" ", b"  ", b"   ", b"    ", b"\t", b" \t", b"        "])

LINE_OPS = ["insert", "delete", "duplicate", "directive", "indent", "bytes", "swap"]
# Amplification is rare: a file that holds hundreds of thousands of reals costs seconds.
DAMAGE_OPS = [*LINE_OPS, "flip", "number", "range", "repeat", "address", "control", "utf8",
              "long"] * 4 + ["amplify"]

# Numbers as operators mistype them, and as a hostile file writes them.
NUMBERS = [b"0", b"00", b"-0", b"-1", b"+1", b"007", b"1.5", b".5", b"5.", b"1e3", b"1m",
           b"10s", b"0x10", b"1_000", b" 1", b"65535", b"65536", b"2147483647",
           b"2147483648", b"4294967295", b"4294967296", b"18446744073709551616",
           b"9" * 40, b"9" * 4000, b"nan", b"inf", b"\xd9\xa3", b"\xef\xbc\x91"]
# IPv4 forms: literals, what inet_aton reads as octal, hex or short forms, and worse.
ADDRESSES = [b"010.0.0.1", b"0x7f.1", b"0x7f000001", b"127.1", b"2130706433", b"0177.0.0.1",
             b"10.0.0.01", b"10.0.0.300", b"1.2.3.4.5", b"1.2.3", b"10..0.1", b"0.0.0.0",
             b"255.255.255.255", b"::ffff:10.0.0.1", b"[10.0.0.1]", b"10.0.0.1/24",
             b"10.0.0.1%eth0", b"localhost", b"host.invalid", b"10.0.0.[1-2]",
             b"010.0.0.[1-2]", b"0x0a.0.0.[1-2]", b"10.0.0.[01-2]", b"10.0.0.1->10.0.0.3",
             b"10.0.0.[1-2]->10.0.0.5", b"[::1]->[::5]", b"\xd9\xa1.0.0.1"]
RANGE_NETS = [b"10.0.0", b"010.0.0", b"10.00.0", b"10.0.00", b"0x7f.0.0", b"0177.0.0", b"127.0",
              b"1.2.3.4", b"", b"::1", b"10.0.0.", b"192.168.1"]
RANGE_SPANS = st.one_of(st.integers(0, 20),
                        st.sampled_from([255, 256, 4095, 65535, 65536, 1 << 20, (1 << 32) - 1]))
RANGE_TAILS = [b":80 gate", b":80 masq 2", b" gate", b":http ipip 0", b":80", b":0 gate",
               b":65536 gate", b":80 gate 2147483648", b':80 gate "/x", "y"', b":80 masq l:9 u:1"]
# What an ldirectord.cf should never hold, and some files do: C0 controls, DEL, C1
# controls, Unicode line and paragraph separators, a byte-order mark, a bidi override.
CONTROLS = [b"\x00", b"\x1b[31m", b"\r", b"\x0b", b"\x0c", b"\x7f", b"\x08", b"\x07",
            b"\xc2\x85", b"\xc2\x9b", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xef\xbb\xbf",
            b"\xe2\x80\xae"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"]
LONG_SIZES = [1000, 8191, 8192, 8193, 100_000, 1 << 20]
LONG_FILLERS = [b"x", b" ", b"\t", b"9", b"(", b"a|", b"\\", b",", b'"', b"#", b".*",
                b"10.0.0.1->"]
# Copies of a plain line; copies of a range line as (copies, addresses in the range - 1):
# small ones, and one beyond any sane cap on the expansion (327,680 reals).
REPEATS = [16, 256, 4096]
AMPLIFY = [(16, 15), (256, 3), (4096, 0), (2, 255), (5, 65535)]
_DIGITS = re.compile(rb"[0-9]+")
_RANGE = re.compile(rb"->|\[")
_IPV4 = re.compile(rb"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def _address(base: int, offset: int) -> bytes:
    value = (base + offset) % (1 << 32)
    return ".".join(str(value >> s & 255) for s in (24, 16, 8, 0)).encode()


@st.composite
def ranged_real(draw: st.DrawFn) -> bytes:
    """A real= line holding a range, `a->b` or `a.b.c.[x-y]`, of any size and form."""
    indent = draw(st.sampled_from([b"\t", b"    ", b""]))
    directive = draw(st.sampled_from([b"real=", b"real=", b"real=", b"real6=", b"fallback="]))
    if draw(st.booleans()):
        base = draw(st.sampled_from([0x0A000001, 0xC0A80101, 0, 0xFFFFFFF0, 0x7F000001]))
        span = draw(RANGE_SPANS)
        first, last = _address(base, 0), _address(base, span)
        if draw(st.booleans()):
            first, last = last, first
        body = first + b"->" + last
    else:
        net = draw(st.sampled_from(RANGE_NETS))
        lo = draw(st.integers(0, 300) | st.sampled_from([65536, 10**30]))
        hi = draw(st.integers(0, 300) | st.sampled_from([65536, 10**30]))
        zero = draw(st.sampled_from([b"", b"0", b"00"]))
        body = net + b".[" + zero + str(lo).encode() + b"-" + str(hi).encode() + b"]"
    return indent + directive + body + draw(st.sampled_from(RANGE_TAILS))


def _substitute(draw: st.DrawFn, line: bytes, pattern: re.Pattern[bytes],
                choices: list[bytes]) -> bytes:
    """`line` with one match of `pattern` (or, without one, its end) replaced by a choice."""
    matches = list(pattern.finditer(line))
    new = draw(st.sampled_from(choices))
    if not matches:
        return line + new
    m = matches[draw(st.integers(0, len(matches) - 1))]
    return line[:m.start()] + new + line[m.end():]


def _insert_at(draw: st.DrawFn, line: bytes, piece: bytes) -> bytes:
    cut = draw(st.integers(0, len(line)))
    return line[:cut] + piece + line[cut:]


def _mutate(draw: st.DrawFn, lines: list[bytes], op: str) -> None:
    """Apply one damage `op` to `lines` in place."""
    pos = draw(st.integers(0, len(lines)))
    i = min(pos, len(lines) - 1) if lines else None
    if op == "insert":
        lines.insert(pos, draw(st.sampled_from(CORPUS_LINES)))
    elif op == "directive":
        lines.insert(pos, draw(INDENTS) + draw(st.sampled_from(DIRECTIVES)) + b"=" + draw(VALUES))
    elif op == "range":
        lines.insert(pos, draw(ranged_real()))
    elif op == "amplify":
        first = draw(st.sampled_from([0x0A000001, 0xC0A80001]))
        copies, span = draw(st.sampled_from(AMPLIFY))
        line = b"\treal=" + _address(first, 0) + b"->" + _address(first, span) + b":80 gate"
        lines[pos:pos] = [line] * copies
    elif i is None:
        return
    elif op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(pos, lines[i])
    elif op == "repeat" and len(lines[i]) < 1000 and not _RANGE.search(lines[i]):
        lines[i:i] = [lines[i]] * draw(st.sampled_from(REPEATS))
    elif op == "indent":
        lines[i] = draw(INDENTS) + lines[i].lstrip()
    elif op == "bytes":
        lines[i] = _insert_at(draw, lines[i], draw(st.binary(max_size=8)))
    elif op == "swap" and len(lines) > 1:
        i = min(pos, len(lines) - 2)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif op == "flip" and lines[i]:
        at = draw(st.integers(0, len(lines[i]) - 1))
        byte = lines[i][at] ^ (1 << draw(st.integers(0, 7)))
        lines[i] = lines[i][:at] + bytes([byte]) + lines[i][at + 1:]
    elif op == "number":
        lines[i] = _substitute(draw, lines[i], _DIGITS, NUMBERS)
    elif op == "address":
        lines[i] = _substitute(draw, lines[i], _IPV4, ADDRESSES)
    elif op == "control":
        lines[i] = _insert_at(draw, lines[i], draw(st.sampled_from(CONTROLS)))
    elif op == "utf8":
        lines[i] = _insert_at(draw, lines[i], draw(st.sampled_from(BAD_UTF8)))
    elif op == "long":
        filler = draw(st.sampled_from(LONG_FILLERS))
        size = draw(st.sampled_from(LONG_SIZES))
        lines[i] = _insert_at(draw, lines[i], filler * (size // len(filler)))


@st.composite
def mutated_corpus(draw: st.DrawFn) -> bytes:
    """A corpus file with one to six line edits."""
    lines = draw(st.sampled_from(CORPUS)).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        _mutate(draw, lines, draw(st.sampled_from(LINE_OPS)))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + ending


@st.composite
def damaged_config(draw: st.DrawFn) -> bytes:
    """A corpus file with one to eight edits of any kind, and any line ending."""
    lines = draw(st.sampled_from(CORPUS)).splitlines()
    for _ in range(draw(st.integers(1, 8))):
        _mutate(draw, lines, draw(st.sampled_from(DAMAGE_OPS)))
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\r", b"\x00\n"]))
    last = draw(st.sampled_from([ending, b""]))
    return ending.join(lines) + last
