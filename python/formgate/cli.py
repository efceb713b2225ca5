"""The ``formgate sample`` and ``formgate check`` commands (wired up in ``formgate.__main__``):
``formgate sample g.ebnf -n 100 --seed 1`` and ``formgate check g.ebnf input.txt``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from formgate import _core
from formgate.errors import GrammarError
from formgate.fuzz.sources import FORMATS, format_for_path, load_grammar


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``sample`` and ``check`` to a subcommand parser."""
    sample = commands.add_parser(
        "sample", help="print random sentences of a grammar, one per line",
        description="Print N random sentences of the grammar in GRAMMAR_FILE ('-': stdin), one "
        "per line. The format follows the file suffix (.ebnf/.gbnf, .lark, .regex/.re, .json "
        "for a JSON Schema; EBNF otherwise) unless --format is given.")
    _grammar_arguments(sample)
    sample.add_argument("-n", type=int, default=10, help="number of sentences (default 10)")
    sample.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    sample.add_argument("--max-bytes", type=int, default=64,
                        help="longest sentence in UTF-8 bytes (default 64)")
    sample.add_argument("--mode", choices=("random-walk", "uniform"), default="random-walk",
                        help="uniform: every sentence within --max-bytes equally likely (small "
                        "languages only; falls back to random-walk with a warning)")
    sample.add_argument("--mutants", metavar="VALID", default=None,
                        help="print near misses instead: one-edit variants of the sentence "
                        "VALID that the grammar rejects")
    out = sample.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true",
                     help="print each sentence as a JSON string (for sentences with newlines)")
    out.add_argument("-0", "--null", action="store_true",
                     help="end each sentence with a NUL byte instead of a newline")

    check = commands.add_parser(
        "check", help="validate a grammar and, optionally, an input against it",
        description="Compile the grammar in GRAMMAR_FILE and report the first error with its "
        "line, column and a caret. With INPUT (a file, byte-exact, or '-' for stdin) or "
        "--string, also check that the grammar accepts it, pointing at the first byte it "
        "rejects. Exit status: 0 ok, 1 grammar or input rejected, 2 usage error.")
    _grammar_arguments(check)
    check.add_argument("input", nargs="?", default=None, metavar="INPUT",
                       help="file to validate against the grammar ('-': stdin)")
    check.add_argument("--string", default=None, help="validate this text instead of a file")


def _grammar_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grammar", metavar="GRAMMAR_FILE", help="grammar file ('-': stdin)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="grammar format (default: from the file suffix, else ebnf)")


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def _load(args: argparse.Namespace) -> _core.Grammar:
    fmt = args.format or format_for_path(args.grammar)
    return load_grammar(_read_text(args.grammar), fmt)


def _grammar_or_report(args: argparse.Namespace) -> Optional[_core.Grammar]:
    """The grammar, or None after printing why it cannot be used."""
    try:
        grammar = _load(args)
        from formgate.fuzz.acceptor import compile_bytes

        compile_bytes(grammar)  # some errors (limits, an empty language) only show here
        return grammar
    except (GrammarError, ValueError, NotImplementedError) as e:
        print(f"{args.grammar}: error: {e}", file=sys.stderr)
    except OSError as e:
        print(f"formgate: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
    return None


def run_sample(args: argparse.Namespace) -> int:
    """``formgate sample``: exit 0, or 1 when the grammar is unusable or has no short sentence."""
    import formgate.fuzz as fz

    grammar = _grammar_or_report(args)
    if grammar is None:
        return 1
    try:
        if args.mutants is not None:
            strings = fz.mutants(grammar, args.mutants, args.n, seed=args.seed)
        else:
            strings = fz.generate(grammar, args.n, max_bytes=args.max_bytes, seed=args.seed,
                                  mode=args.mode)
    except ValueError as e:  # NoStringError, or a --mutants string the grammar rejects
        print(f"{args.grammar}: error: {e}", file=sys.stderr)
        return 1
    end = "\0" if args.null else "\n"
    for s in strings:
        sys.stdout.write((json.dumps(s, ensure_ascii=False) if args.json else s) + end)
    return 0


def _position(data: bytes, offset: int) -> tuple[int, int, str]:
    """1-based line and column (in characters) of byte ``offset``, and that line's text."""
    before = data[:offset].decode("utf-8", errors="replace")
    line = before.count("\n") + 1
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    text = data[start:len(data) if end < 0 else end].decode("utf-8", errors="replace")
    return line, len(before) - (before.rfind("\n") + 1) + 1, text


def _describe_bytes(allowed: Sequence[int]) -> str:
    shown = [json.dumps(chr(b)) if b < 0x80 else f"0x{b:02x}" for b in allowed[:12]]
    more = f" and {len(allowed) - 12} more" if len(allowed) > 12 else ""
    return ", ".join(shown) + more if shown else "nothing (the input should have ended)"


def check_input(grammar: _core.Grammar, data: bytes, name: str) -> Optional[str]:
    """None when ``grammar`` accepts ``data``, else a message with the position and a caret.

    Example:
        >>> g = _core.Grammar.from_ebnf('root ::= "ab" [0-9]')
        >>> print(check_input(g, b"abx", "in.txt"))
        in.txt: line 1, column 3: rejected byte "x"; expected one of "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"
          abx
            ^
    """
    from formgate.fuzz.acceptor import allowed_bytes, compile_bytes, new_matcher

    matcher = new_matcher(compile_bytes(grammar))
    for offset, byte in enumerate(data):
        if not matcher.accept_token(byte):
            line, column, text = _position(data, offset)
            shown = json.dumps(chr(byte)) if byte < 0x80 else f"0x{byte:02x}"
            return (f"{name}: line {line}, column {column}: rejected byte {shown}; expected one "
                    f"of {_describe_bytes(allowed_bytes(matcher).tolist())}\n  {text}\n"
                    f"  {' ' * (column - 1)}^")
    if not matcher.is_completed():
        line, column, text = _position(data, len(data))
        return (f"{name}: line {line}, column {column}: the input ends too early; expected "
                f"{_describe_bytes(allowed_bytes(matcher).tolist())}\n  {text}\n"
                f"  {' ' * (column - 1)}^")
    return None


def run_check(args: argparse.Namespace) -> int:
    """``formgate check``: 0 when the grammar (and the input) are fine, else 1."""
    grammar = _grammar_or_report(args)
    if grammar is None:
        return 1
    if args.input is None and args.string is None:
        print(f"{args.grammar}: ok ({grammar.num_rules} rules)")
        return 0
    if args.string is not None:
        data, name = args.string.encode("utf-8"), "--string"
    elif args.input == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            with open(args.input, "rb") as f:
                data, name = f.read(), args.input
        except OSError as e:
            print(f"formgate: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
            return 1
    problem = check_input(grammar, data, name)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    print(f"{name}: ok")
    return 0

