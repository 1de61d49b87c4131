"""``python -m forgesim --provider gitlab --host 127.0.0.1 --port 8929 --data DIR``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from forgesim.core import ForgeConfig
from forgesim.providers import MODULES
from forgesim.server import serve


def parse_args(argv: list[str] | None = None) -> ForgeConfig:
    parser = argparse.ArgumentParser(prog="python -m forgesim", description=__doc__)
    parser.add_argument("--provider", required=True, choices=sorted(MODULES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True, help="state and repositories")
    parser.add_argument("--tls-self-signed", action="store_true", help="HTTPS; CA at DATA/ca.pem")
    parser.add_argument(
        "--gitlab-mode",
        help="gitlab: v4 (default) | v4-only | v3-only | no-introspection (see README)",
    )
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="provider option"
    )
    parser.add_argument("--delivery-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    options = dict(item.split("=", 1) for item in args.option)
    if args.gitlab_mode:
        options["gitlab_mode"] = args.gitlab_mode
    return ForgeConfig(
        provider=args.provider,
        data_dir=args.data,
        host=args.host,
        port=args.port,
        tls_self_signed=args.tls_self_signed,
        options=options,
        delivery_timeout=args.delivery_timeout,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = parse_args(argv)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
