"""A lint of the HLS C++ sqzfpga writes, for the mistakes that make Vitis HLS miss II=1 or misreport
latency without failing: caught here in a second instead of after a synthesis run.

It reads our C++ only (firmware/*.cpp: hls4ml's top with our layer calls and pragmas, and the AXI-Stream
top; firmware/nnet_utils/sqz_*.h: the kernels), not hls4ml's nnet_*.h, with a brace-, paren- and
pragma-aware scanner of our code style (no C++ front end: templates are followed by argument position
and the config structs of firmware/parameters.h give the folding constants). Rules, with their source
(AMD UG1399, Vitis High-Level Synthesis User Guide; section names as in 2022.2-2025.2):

  array-ports     In a loop with `#pragma HLS PIPELINE`, every loop nested in it is unrolled ("Pipelining
                  Loops": inner loops are unrolled automatically), so an array read whose index depends on
                  such a loop's variable reads several elements per iteration. A memory has two ports
                  (one when bound `rom_1p`/`ram_1p`), so an array read more often than that per iteration
                  must be partitioned or reshaped on that dimension ("pragma HLS array_partition":
                  partitioning "increases the amount of read and write ports"; "pragma HLS array_reshape";
                  otherwise the II is limited by the memory's ports): an ARRAY_PARTITION or ARRAY_RESHAPE
                  naming it (dim = that dimension, or 0 for all; no dim: 1) in its function or, for an array
                  parameter, on the argument at any call site up the chain (the weight ROMs are globals
                  reshaped by firmware/<project>.cpp's call site). The banks the
                  partitions make (their factors) must then take the reads: ceil(reads / banks) <= ports,
                  the reads assumed spread over the banks (consecutive indices, as ours are).
                  Reads count along the longest if/else path (a constant condition: its branch only); a
                  read in unrolled loops counts the product of the trip counts of the loops its index
                  depends on (unknown: many). Arrays inside struct values
                  (stream beats, sqz::Step) are not checked: Vitis disaggregates them.
  stream-read-once  In a pipelined loop, each hls::stream is read (`.read(`, `.read_nb(`) at most once per
                  iteration, counted along the longest if/else path ("HLS Stream Library": a stream is a
                  FIFO with one read port, so a second read in the iteration forces II >= 2).
  loop-tripcount  Every `while`/`do` loop, and every `for` loop whose bound is not a compile-time constant
                  (literals, template parameters, members of types, `const` locals initialised from
                  those), states `#pragma HLS LOOP_TRIPCOUNT` in its body ("pragma HLS loop_tripcount":
                  without it the latency report shows `?` and the cycle model cannot be checked against it).
  inner-unroll    A loop nested in a PIPELINE loop states `#pragma HLS UNROLL` (Vitis unrolls it anyway,
                  "Pipelining Loops"; stating it keeps the source saying what the hardware does).

Code under `#ifndef __SYNTHESIS__` is skipped (C simulation only)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqzfpga.errors import UserError

KEYWORDS = {"return", "else", "case", "new", "delete", "sizeof", "typename", "const", "static", "if", "for",
            "while", "do", "switch", "goto", "break", "continue", "default", "template", "class", "struct"}
CASTS = {"int", "unsigned", "bool", "long", "short", "char", "size_t", "signed"}
TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)|(\d[\w.]*)|(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')|"
                   r"(<<=|>>=|::|->|\+\+|--|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|<<|>>|\S))")
COMMENT = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|//[^\n]*|/\*.*?\*/", re.S)
MANY = 1 << 30  # an unknown number of accesses per iteration


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the project folder
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Tok:
    text: str
    line: int
    kind: str  # id, num, str, op, pragma


# ---- scanning --------------------------------------------------------------------------------------

def tokenize(text: str) -> list[Tok]:
    """Tokens of a C++ file with line numbers: comments dropped, `#pragma` lines kept as one token,
    object-like `#define`s expanded, `#ifndef __SYNTHESIS__` blocks skipped, other directives ignored."""
    text = COMMENT.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else "\n" * m.group(0).count("\n"), text)
    lines = text.split("\n")
    defines: dict[str, list[Tok]] = {}
    out: list[Tok] = []
    skip: list[tuple[bool, bool]] = []  # per open #if: whether its lines are skipped, and those after #else
    i = 0
    while i < len(lines):
        start, line = i + 1, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        s = line.strip()
        if s.startswith("#"):
            d = s[1:].strip()
            word = d.split(None, 1)[0] if d else ""
            synthesis = d.split()[1:2] == ["__SYNTHESIS__"]
            if word in ("if", "ifdef", "ifndef"):
                skip.append((synthesis and word == "ifndef", synthesis and word == "ifdef"))
            elif word == "else" and skip:
                skip[-1] = (skip[-1][1], skip[-1][1])
            elif word == "endif" and skip:
                skip.pop()
            elif any(k for k, _ in skip):
                pass
            elif word == "pragma":
                out.append(Tok(d[len("pragma"):].strip(), start, "pragma"))
            elif word == "define":
                m = re.match(r"define\s+(\w+)\b(?!\()\s*(.*)", d)
                if m:
                    defines[m.group(1)] = lex(m.group(2), start, {})
            continue
        if not any(k for k, _ in skip):
            out += lex(line, start, defines)
    return out


def lex(s: str, line: int, defines: dict[str, list[Tok]]) -> list[Tok]:
    out = []
    for m in TOKEN.finditer(s):
        ident, num, string, op = m.groups()
        if ident in defines:
            out += [Tok(t.text, line, t.kind) for t in defines[ident]]
        elif ident:
            out.append(Tok(ident, line, "id"))
        elif num:
            out.append(Tok(num, line, "num"))
        elif string:
            out.append(Tok(string, line, "str"))
        elif op:
            out.append(Tok(op, line, "op"))
    return out


def match(toks: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at toks[i] (round, square or curly)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind != "op":
            continue
        if toks[j].text in pairs:
            depth += 1
        elif toks[j].text in pairs.values():
            depth -= 1
            if depth == 0:
                return j
    raise ValueError(f"line {toks[i].line}: unbalanced '{toks[i].text}'")


def match_angle(toks: list[Tok], i: int) -> int:
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j].text
        depth += {"<": 1, ">": -1, ">>": -2}.get(t, 0) if toks[j].kind == "op" else 0
        if depth <= 0:
            return j
    raise ValueError(f"line {toks[i].line}: unbalanced '<'")


def split_top(toks: list[Tok], sep: str = ",") -> list[list[Tok]]:
    """toks split at `sep` outside brackets (and, for a comma, template angle brackets)."""
    opening, closing = ("([{<", ")]}>") if sep == "," else ("([{", ")]}")
    parts, cur, depth = [], [], 0
    for t in toks:
        if t.kind == "op" and t.text in opening:
            depth += 1
        elif t.kind == "op" and t.text in closing:
            depth -= 1
        elif t.kind == "op" and t.text == ">>" and sep == ",":
            depth -= 2
        if t.text == sep and depth == 0:
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    return parts + [cur] if cur or parts else []


# ---- statements ------------------------------------------------------------------------------------

@dataclass
class Pragma:
    text: str
    line: int


@dataclass
class Simple:
    toks: list[Tok]
    line: int


@dataclass
class Loop:
    kind: str  # for, while, do
    head: list[Tok]
    body: list
    line: int

    def pragmas(self) -> list[str]:
        return [s.text.upper() for s in self.body if isinstance(s, Pragma)]

    def has(self, word: str) -> bool:
        return any(re.search(rf"\bHLS\s+{word}\b(?!\s+OFF)", p) for p in self.pragmas())


@dataclass
class If:
    cond: list[Tok]
    then: list
    els: list
    line: int


def parse_block(toks: list[Tok], i: int, end: int) -> list:
    out = []
    while i < end:
        s, i = parse_stmt(toks, i)
        if s is not None:
            out.append(s)
    return out


def parse_stmt(toks: list[Tok], i: int):
    t = toks[i]
    if t.kind == "pragma":
        return Pragma(t.text, t.line), i + 1
    if t.text == "{":
        j = match(toks, i)
        return parse_block(toks, i + 1, j), j + 1
    if t.text in ("for", "while", "if", "switch") and t.kind == "id":
        j = match(toks, i + 1)
        body, k = parse_stmt(toks, j + 1)
        body = body if isinstance(body, list) else [body]
        if t.text == "if" or t.text == "switch":
            els = []
            if k < len(toks) and toks[k].text == "else":
                e, k = parse_stmt(toks, k + 1)
                els = e if isinstance(e, list) else [e]
            return If(toks[i + 2:j], body, els, t.line), k
        return Loop(t.text, toks[i + 2:j], body, t.line), k
    if t.text == "do" and t.kind == "id":
        body, k = parse_stmt(toks, i + 1)  # k: `while`
        j = match(toks, k + 1)
        return Loop("do", toks[k + 2:j], body if isinstance(body, list) else [body], t.line), j + 2
    if t.kind == "id" and i + 1 < len(toks) and toks[i + 1].text == ":" and t.text not in KEYWORDS:
        return None, i + 2  # a label
    j = i
    while toks[j].text != ";":
        j = match(toks, j) + 1 if toks[j].kind == "op" and toks[j].text in "([{" else j + 1
    return Simple(toks[i:j], t.line), j + 1


def walk(stmts: list):
    """Every statement, depth first, in source order."""
    for s in stmts:
        yield s
        if isinstance(s, Loop):
            yield from walk(s.body)
        elif isinstance(s, If):
            yield from walk(s.then)
            yield from walk(s.els)
        elif isinstance(s, list):
            yield from walk(s)


def flat(stmts: list) -> list:
    """Blocks inlined: a block's statements belong to its parent's sequence."""
    out = []
    for s in stmts:
        out += flat(s) if isinstance(s, list) else [s]
    return out


# ---- functions -------------------------------------------------------------------------------------

@dataclass
class Param:
    name: str
    dims: list[list[Tok]]  # an array's dimension expressions; []: not an array


@dataclass
class Function:
    name: str
    file: str
    line: int
    tparams: list[tuple[str, str]]  # (type|value, name)
    params: list[Param]
    body: list
    consts: dict[str, list[Tok]] = field(default_factory=dict)  # const locals: initialiser
    arrays: dict[str, list[list[Tok]]] = field(default_factory=dict)  # local arrays: dimension expressions
    decls: set = field(default_factory=set)  # ids of the tokens naming a declared array

    def shape(self, name: str) -> list[list[Tok]]:
        """The dimension expressions of a local array or array parameter ([] for anything else)."""
        return self.arrays.get(name) or next((p.dims for p in self.params if p.name == name), [])

    def pragmas(self) -> list[str]:
        return [s.text for s in walk(self.body) if isinstance(s, Pragma)]


def parse_functions(toks: list[Tok], file: str) -> list[Function]:
    out, i, tparams = [], 0, []
    while i < len(toks):
        t = toks[i]
        if t.text == "namespace":
            while toks[i].text != "{":
                i += 1
        elif t.text == "template" and toks[i + 1].text == "<":
            j = match_angle(toks, i + 1)
            tparams = [("type" if p[0].text in ("class", "typename") else "value", p[-1].text)
                       for p in split_top(toks[i + 2:j])]
            i = j
        elif t.text == "{":
            i = match(toks, i)
        elif t.text == ";":
            tparams = []
        elif t.kind == "id" and t.text not in KEYWORDS and i + 1 < len(toks) and toks[i + 1].text == "(":
            j = match(toks, i + 1)
            k = j + 1 + (toks[j + 1].text == "const")
            if k < len(toks) and toks[k].text == "{":
                end = match(toks, k)
                f = Function(t.text, file, t.line, tparams, [param(p) for p in split_top(toks[i + 2:j])],
                             parse_block(toks, k + 1, end))
                locals_of(f)
                out.append(f)
                tparams, i = [], end
            else:
                i = j
        i += 1
    return out


def param(toks: list[Tok]) -> Param:
    tx = [t.text for t in toks]
    if "[" in tx:
        k = tx.index("[")
        return Param(tx[k - 1], brackets(toks, k)[0])
    names = [t.text for t in toks if t.kind == "id"]
    return Param(names[-1] if names else "", [])


def brackets(toks: list[Tok], j: int) -> tuple[list[list[Tok]], int]:
    """The expressions of the subscripts `[a][b]...` starting at toks[j], and the index after them."""
    out = []
    while j < len(toks) and toks[j].text == "[":
        e = match(toks, j)
        out.append(toks[j + 1:e])
        j = e + 1
    return out, j


def locals_of(f: Function) -> None:
    """A function's const locals and local arrays."""
    for s in walk(f.body):
        if not isinstance(s, Simple):
            continue
        tx = [t.text for t in s.toks]
        if "const" in tx[:2] and "=" in tx:
            k = tx.index("=")
            for d in split_top(s.toks[k - 1:]):
                if len(d) > 2 and d[1].text == "=":
                    f.consts[d[0].text] = d[2:]
        for k in range(1, len(s.toks) - 1):
            t = s.toks[k]
            if t.kind == "id" and s.toks[k + 1].text == "[" and not set(tx[:k]) & {"=", "(", "?", "[", ".", "return"}:
                prev = s.toks[k - 1]
                if prev.text == ">" or (prev.kind == "id" and prev.text not in KEYWORDS):
                    f.arrays[t.text] = brackets(s.toks, k + 1)[0]
                    f.decls.add(id(t))
                    break


def qualified(toks: list[Tok], k: int) -> int:
    """End (exclusive) of the qualified name `a::b::c` starting at toks[k]."""
    j = k + 1
    while j + 1 < len(toks) and toks[j].text == "::" and toks[j + 1].kind == "id":
        j += 2
    return j


# ---- constant evaluation ---------------------------------------------------------------------------

@dataclass
class Struct:
    consts: dict[str, list[Tok]]
    types: dict[str, str]


def parse_structs(toks: list[Tok]) -> dict[str, Struct]:
    """The config structs of parameters.h: static const members and member typedefs."""
    out = {}
    for i, t in enumerate(toks):
        if t.text == "struct" and i + 2 < len(toks) and toks[i + 2].text == "{":
            st = Struct({}, {})
            for d in split_top(toks[i + 3:match(toks, i + 2)], ";"):
                tx = [x.text for x in d]
                if tx[:1] == ["typedef"]:
                    st.types[tx[-1]] = "".join(tx[1:-1])
                elif "const" in tx and "=" in tx:
                    k = tx.index("=")
                    st.consts[tx[k - 1]] = d[k + 1:]
            out[toks[i + 1].text] = st
    return out


class Env:
    """Values of names in one function under one binding of its template parameters."""

    def __init__(self, f: Function, binding: dict[str, object], structs: dict[str, Struct]):
        self.f, self.binding, self.structs = f, binding, structs

    def member(self, path: list[str]) -> int | None:
        head = self.binding.get(path[0], path[0])
        if not isinstance(head, str):
            return None
        parts = head.split("::") + path[1:]
        cur = parts[0]
        for k, p in enumerate(parts[1:], 1):
            st = self.structs.get(cur)
            if st is None:
                return None
            if p in st.types:
                cur = st.types[p]
            elif p in st.consts and k == len(parts) - 1:
                return evaluate(st.consts[p], lambda q, cur=cur: self.member([cur] + q))
            else:
                return None
        return None

    def value(self, path: list[str], seen=()) -> int | None:
        if len(path) > 1:
            return self.member(path)
        name = path[0]
        if name in self.f.consts and name not in seen:
            return evaluate(self.f.consts[name], lambda q: self.value(q, seen + (name,)))
        v = self.binding.get(name)
        return v if isinstance(v, int) else None


def evaluate(toks: list[Tok], resolve) -> int | None:
    """An integer constant expression, names resolved by resolve(qualified name parts); None if any is
    unknown or the expression is beyond + - * / % << >>, comparisons, && ||, casts and parentheses."""
    out, k = [], 0
    while k < len(toks):
        t = toks[k]
        if t.kind == "id":
            j = qualified(toks, k)
            if t.text in CASTS and j < len(toks) and toks[j].text == "(":
                k += 1
                continue
            if t.text in ("true", "false"):
                out.append("1" if t.text == "true" else "0")
            else:
                v = resolve([x.text for x in toks[k:j:2]])
                if v is None:
                    return None
                out.append(f"({v})")
            k = j
            continue
        if t.kind == "num":
            out.append(t.text.rstrip("uUlL"))
        elif t.text in ("+", "-", "*", "%", "(", ")", "<<", ">>", "<", ">", "<=", ">=", "==", "!="):
            out.append(t.text)
        elif t.text in ("/", "&&", "||"):
            out.append({"/": "//", "&&": "and", "||": "or"}[t.text])
        else:
            return None
        k += 1
    try:
        return int(eval(" ".join(out), {"__builtins__": {}}))  # numbers and operators only
    except Exception:
        return None


def loop_var(loop: Loop) -> str | None:
    if loop.kind != "for":
        return None
    init = split_top(loop.head, ";")
    names = [t.text for t in (init[0] if init else []) if t.kind == "id"]
    return names[-1] if names else None


def trip(loop: Loop, env: Env) -> int | None:
    """Iterations of `for (T i = a; i < b; i++)` (or <=, !=, ++i; an UNROLL factor: that), None if not of
    that form or unknown."""
    for p in loop.pragmas():
        m = re.search(r"\bUNROLL\b.*\bFACTOR\s*=\s*(\d+)", p)
        if m:
            return int(m.group(1))
    parts = split_top(loop.head, ";")
    if loop.kind != "for" or len(parts) != 3 or len(parts[0]) < 3 or len(parts[1]) < 3:
        return None
    init, cond, inc = parts
    var = loop_var(loop)
    if [t.text for t in cond[:1]] != [var] or cond[1].text not in ("<", "<=", "!="):
        return None
    eq = [t.text for t in init].index("=") if "=" in [t.text for t in init] else len(init)
    a, b = evaluate(init[eq + 1:], env.value), evaluate(cond[2:], env.value)
    step = 1 if [t.text for t in inc] in ([var, "++"], ["++", var]) else None
    if a is None or b is None or step is None:
        return None
    return max(0, b - a + (cond[1].text == "<="))


# ---- the rules -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Where an array parameter's argument comes from: the array `name` of function `fn`, passed at
    file:line, and the names it has on the way down (function, name)."""
    fn: str
    name: str
    file: str
    line: int
    chain: tuple[tuple[str, str], ...]


@dataclass
class Count:
    n: int
    lines: list[int]


def add(a: dict, b: dict) -> dict:
    out = {k: Count(v.n, list(v.lines)) for k, v in a.items()}
    for k, v in b.items():
        c = out.setdefault(k, Count(0, []))
        c.n = min(MANY, c.n + v.n)
        c.lines += v.lines
    return out


def longest(a: dict, b: dict) -> dict:
    return {k: max(a.get(k, Count(0, [])), b.get(k, Count(0, [])), key=lambda c: c.n) for k in a.keys() | b.keys()}


class Pipelined:
    """Accesses per iteration of one pipelined loop of f under env: counts along the longest path."""

    def __init__(self, f: Function, env: Env):
        self.f, self.env = f, env
        # array -> dimension (1-based) -> the first line reading it with an index of an unrolled loop
        self.dims: dict[str, dict[int, int]] = {}
        self.addresses: set = set()  # (array, index text, unrolled loops): one read however often written

    def run(self, stmts: list, unrolled: list[tuple[str, int | None]], taint: dict[str, set]) -> dict:
        total: dict = {}
        for s in flat(stmts):
            if isinstance(s, Simple):
                total = add(total, self.reads(s.toks, unrolled, taint))
                self.propagate(s.toks, unrolled, taint)
            elif isinstance(s, If):
                total = add(total, self.reads(s.cond, unrolled, taint))
                known = evaluate(s.cond, self.env.value)  # a constant condition: only its branch is built
                branches = [s.then, s.els] if known is None else [s.then if known else s.els]
                runs = [self.run(b, unrolled, dict(taint)) for b in branches]
                total = add(total, longest(runs[0], runs[-1]))
            elif isinstance(s, Loop):
                total = add(total, self.reads(s.head, unrolled, taint))
                var = loop_var(s)
                inner = unrolled + [(var, trip(s, self.env))]
                total = add(total, self.run(s.body, inner, dict(taint, **({var: {var}} if var else {}))))
        return total

    def propagate(self, toks: list[Tok], unrolled, taint) -> None:
        """A local assigned from an unrolled loop's variable depends on it (`unsigned ch = done + j;`)."""
        tx = [t.text for t in toks]
        if "=" in tx and unrolled:
            k = tx.index("=")
            deps = set().union(*(taint.get(t.text, set()) for t in toks[k + 1:] if t.kind == "id"))
            if deps and k > 0 and toks[k - 1].kind == "id":
                taint[toks[k - 1].text] = deps

    def reads(self, toks: list[Tok], unrolled, taint) -> dict:
        out: dict = {}
        trips = {v: n for v, n in unrolled}
        every = 1
        for _, n in unrolled:
            every = MANY if n is None else min(MANY, every * n)
        for k, t in enumerate(toks):
            if t.kind != "id" or (k and toks[k - 1].text in (".", "->", "::")):
                continue
            nxt = toks[k + 1].text if k + 1 < len(toks) else ""
            if nxt == "." and k + 3 < len(toks) and toks[k + 2].text in ("read", "read_nb") and toks[k + 3].text == "(":
                out = add(out, {("stream", t.text): Count(every, [t.line] * min(every, 2))})
            elif nxt == "[" and self.f.shape(t.text) and id(t) not in self.f.decls:
                dims, j = brackets(toks, k + 1)
                address = (t.text, tuple(" ".join(x.text for x in d) for d in dims), tuple(v for v, _ in unrolled))
                if (j < len(toks) and toks[j].text == "=") or address in self.addresses:
                    continue  # a write, or an element this iteration has read already
                self.addresses.add(address)
                n, dep = 1, set()
                for d, idx in enumerate(dims, 1):
                    vs = set().union(*(taint.get(x.text, set()) for x in idx if x.kind == "id"))
                    if vs:
                        self.dims.setdefault(t.text, {}).setdefault(d, t.line)
                    dep |= vs
                for v in dep:
                    n = MANY if trips.get(v) is None else min(MANY, n * trips[v])
                out = add(out, {("array", t.text): Count(n, [t.line])})
        return out


def partitions(pragmas: list[str], name: str, sizes: list[int | None], resolve) -> tuple[set[int], int, int | None]:
    """Dimensions partitioned or reshaped by pragmas naming `name` (0: all), its read ports (0: registers,
    every dimension completely partitioned), and the banks the partitions make (None: unknown); sizes:
    the array's dimensions."""
    dims, ports, banks, complete = set(), 2, 1, set()
    for p in pragmas:
        u = p.upper()
        if not re.search(rf"\bVARIABLE\s*=\s*{re.escape(name.upper())}\b", u):
            continue
        if re.search(r"\bARRAY_(PARTITION|RESHAPE)\b", u):
            m = re.search(r"\bDIM\s*=\s*(\d+)", u)
            dim = int(m.group(1)) if m else 1
            dims.add(dim)
            m = re.search(r"\bFACTOR\s*=\s*(\S+)", p, re.I)
            over = sizes if dim == 0 else sizes[dim - 1:dim]
            if m:  # block or cyclic: factor banks per dimension
                factor = evaluate(lex(m.group(1), 0, {}), resolve)
                n = None if factor is None else factor ** len(over)
            else:  # complete: one bank per element
                n = None if None in over or not over else math.prod(over)
                complete.add(dim)
            banks = None if banks is None or n is None else banks * n
        m = re.search(r"\bTYPE\s*=\s*(\w+)", u)
        if "BIND_STORAGE" in u and m and m.group(1).endswith("_1P"):
            ports = 1
    return dims, 0 if 0 in complete or complete >= set(range(1, len(sizes) + 1)) else ports, banks


class Lint:
    def __init__(self, project: Path):
        self.project = project
        fw = project / "firmware"
        self.files = sorted(fw.glob("*.cpp")) + sorted((fw / "nnet_utils").glob("sqz_*.h"))
        self.functions: dict[str, Function] = {}
        for p in self.files:
            for f in parse_functions(tokenize(p.read_text()), p.relative_to(project).as_posix()):
                self.functions.setdefault(f.name, f)
        params = fw / "parameters.h"
        self.structs = parse_structs(tokenize(params.read_text())) if params.exists() else {}
        self.findings: dict[tuple, Finding] = {}
        self.seen: set = set()

    def report(self, key, file: str, line: int, rule: str, message: str) -> None:
        self.findings.setdefault(key, Finding(file, line, rule, message))

    def run(self) -> list[Finding]:
        for f in self.functions.values():
            self.syntax(f)
        for f in self.functions.values():
            if not f.tparams:
                self.instance(f, {}, {})
        for f in self.functions.values():  # templates no written code instantiates: their local arrays
            if not any(key[0] == f.name for key in self.seen):
                self.instance(f, {}, {})
        return sorted(self.findings.values(), key=lambda x: (x.file, x.line, x.rule))

    def syntax(self, f: Function) -> None:
        """loop-tripcount and inner-unroll: per function, no binding needed."""
        for s in walk(f.body):
            if not isinstance(s, Loop):
                continue
            if not s.has("LOOP_TRIPCOUNT") and (s.kind != "for" or not self.constant_bound(f, s)):
                what = f"`{s.kind}` loop" if s.kind != "for" else "`for` loop with a bound that is not a constant"
                self.report((f.file, s.line, "tc"), f.file, s.line, "loop-tripcount",
                            f"{what} in {f.name}() has no `#pragma HLS LOOP_TRIPCOUNT` (Vitis reports its latency "
                            "as unknown)")
            if s.has("PIPELINE"):
                for inner in walk(s.body):
                    if isinstance(inner, Loop) and not inner.has("UNROLL"):
                        self.report((f.file, inner.line, "iu"), f.file, inner.line, "inner-unroll",
                                    f"loop in the pipelined loop of line {s.line} in {f.name}() has no "
                                    "`#pragma HLS UNROLL` (Vitis unrolls it anyway; state it)")

    def constant_bound(self, f: Function, loop: Loop) -> bool:
        parts = split_top(loop.head, ";")
        return len(parts) == 3 and self.constant(f, parts[1], {loop_var(loop)}, set())

    def constant(self, f: Function, toks: list[Tok], allowed: set, seen: set) -> bool:
        k = 0
        while k < len(toks):
            t = toks[k]
            if t.kind == "id":
                j = qualified(toks, k)
                if j - k == 1 and t.text not in allowed | CASTS | {"sizeof", "true", "false"}:
                    if t.text in f.consts and t.text not in seen:
                        if not self.constant(f, f.consts[t.text], set(), seen | {t.text}):
                            return False
                    elif t.text not in {n for _, n in f.tparams}:
                        return False
                k = j
            else:
                k += 1
        return True

    def instance(self, f: Function, binding: dict, origins: dict[str, Origin]) -> None:
        """array-ports and stream-read-once in f under one binding, then the functions it calls."""
        key = (f.name, tuple(sorted((k, str(v)) for k, v in binding.items())),
               tuple(sorted((k, v.fn, v.name, v.line) for k, v in origins.items())))
        if key in self.seen:
            return
        self.seen.add(key)
        env = Env(f, binding, self.structs)
        for s in walk(f.body):
            if isinstance(s, Loop) and s.has("PIPELINE"):
                self.pipelined(f, env, s, origins)
        for s in walk(f.body):
            for toks in ([s.toks] if isinstance(s, Simple) else [s.cond] if isinstance(s, If) else
                         [s.head] if isinstance(s, Loop) else []):
                self.calls(f, env, toks, origins)

    def pipelined(self, f: Function, env: Env, loop: Loop, origins: dict[str, Origin]) -> None:
        p = Pipelined(f, env)
        counts = p.run(loop.body, [], {})
        for (kind, name), c in sorted(counts.items()):
            if kind == "stream" and c.n > 1:
                self.report((f.file, loop.line, name, "s"), f.file, c.lines[1], "stream-read-once",
                            f"stream `{name}` is read {'several' if c.n >= MANY else c.n} times per iteration of the "
                            f"pipelined loop of line {loop.line} in {f.name}() (a FIFO has one read port: II >= 2); "
                            "read it once per iteration")
        for (kind, name), c in sorted(counts.items()):
            if kind != "array":
                continue
            o = origins.get(name)
            sizes = [evaluate(d, env.value) for d in f.shape(name)]
            if name in f.arrays:
                dims, ports, banks = partitions(f.pragmas(), name, sizes, env.value)
            elif o is not None:
                dims, ports, banks = set(), 2, 1
                for fn, n in o.chain:  # pragmas in other functions: their literals only
                    d, pt, b = partitions(self.functions[fn].pragmas(), n, sizes,
                                          env.value if fn == f.name else Env(self.functions[fn], {}, {}).value)
                    dims, ports, banks = dims | d, min(ports, pt), None if banks is None or b is None else banks * b
            else:
                continue  # a parameter no written code passes: checked where it is instantiated
            if c.n <= ports or ports == 0:  # within the ports, or registers
                continue
            dep = p.dims.get(name, {})
            bad = {d: ln for d, ln in dep.items() if d not in dims and 0 not in dims}
            how = "several" if c.n >= MANY else str(c.n)
            line = min(bad.values()) if bad else min(dep.values()) if dep else c.lines[0]
            if bad or not dims:
                fix = "no ARRAY_PARTITION or ARRAY_RESHAPE" + (f" on dimension {min(bad)}" if bad else "")
            elif banks is not None and c.n < MANY and -(-c.n // banks) > ports:
                per = -(-c.n // banks)
                fix = f"{banks} bank{'s' * (banks != 1)}: {per} reads per bank (raise the partition factor)"
            else:
                continue
            has = f"{ports} port{'s' * (ports > 1)}"
            if o is None:
                self.report((f.file, name, "a"), f.file, line, "array-ports",
                            f"array `{name}` is read {how} times per iteration of the pipelined loop of line "
                            f"{loop.line} in {f.name}(); it has {has} and {fix}")
            else:
                at = "" if fix.endswith(")") else " at this call"
                self.report((o.file, o.line, o.name, "a"), o.file, o.line, "array-ports",
                            f"`{o.name}` (`{name}` of {f.name}(), read {how} times per iteration of a pipelined "
                            f"loop, {f.file}:{line}) has {has} and {fix}{at}")

    def calls(self, f: Function, env: Env, toks: list[Tok], origins: dict[str, Origin]) -> None:
        for k, t in enumerate(toks):
            g = self.functions.get(t.text)
            if g is None or t.kind != "id" or (k and toks[k - 1].text in (".", "->")):
                continue
            j, targs = k + 1, []
            if j < len(toks) and toks[j].text == "<":
                e = match_angle(toks, j)
                targs, j = split_top(toks[j + 1:e]), e + 1
            if j >= len(toks) or toks[j].text != "(":
                continue
            args = split_top(toks[j + 1:match(toks, j)])
            binding = {}
            for (kind, name), a in zip(g.tparams, targs):
                a = [x for x in a if x.text != "typename"]
                if kind == "value":
                    binding[name] = evaluate(a, env.value)
                else:
                    text = "".join(x.text for x in a)
                    head = text.split("::")[0]
                    bound = env.binding.get(head)
                    binding[name] = bound + text[len(head):] if isinstance(bound, str) else text
            sub = {}
            for p, a in zip(g.params, args):
                if not p.dims or len(a) != 1 or a[0].kind != "id":
                    continue
                arg = a[0].text
                if arg in origins:
                    o = origins[arg]
                    sub[p.name] = Origin(o.fn, o.name, o.file, o.line, o.chain + ((g.name, p.name),))
                elif not any(q.name == arg for q in f.params):
                    sub[p.name] = Origin(f.name, arg, f.file, t.line, ((f.name, arg), (g.name, p.name)))
            self.instance(g, binding, sub)


def lint(project: Path) -> list[Finding]:
    """The findings of every rule on a written hls4ml project (the folder holding firmware/)."""
    return Lint(Path(project)).run()


def check(project: Path) -> None:
    """Raise UserError naming the first finding, if any: generated code that breaks a rule is our bug."""
    found = lint(project)
    if found:
        raise UserError(f"HLS lint: {found[0]} ({len(found)} finding{'s' * (len(found) > 1)}); this is a bug in "
                        "sqzfpga, please report it with the model file")
