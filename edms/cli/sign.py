"""``edms sign``, ``edms extend`` and ``edms fill-fields``: PAdES signing outside the
document lifecycle (``edms verify`` is in :mod:`edms.cli.verify`)."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import click

from signing.engine import Level, Profile, SigningEngine, SigningError

from ..config import Settings
from ..signatures import SignerRef, engine_for, options_for, resolve, trust_services
from .base import fail, settings, signer_options

_LEVELS = [lvl.value for lvl in Level]
_PROFILES = [p.value for p in Profile]


# -- batch workers: one engine per process, built once ---------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(ref: SignerRef, env: dict[str, str]) -> None:
    os.environ.update(env)
    config = Settings.from_env()  # checked by the parent before the pool started
    signer = resolve(config, ref)
    _WORKER["signer"] = signer
    _WORKER["engine"] = engine_for(config, signer)


def _sign_one(src: str, dst: str, opts_kw: dict[str, Any]) -> str:
    engine: SigningEngine = _WORKER["engine"]
    profile = Profile(opts_kw.pop("profile"))
    opts = options_for(_WORKER["signer"], profile, **opts_kw)
    engine.sign(src, dst, opts)
    return dst


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file, or directory with --batch.",
)
@click.option("--profile", type=click.Choice(_PROFILES), required=True)
@click.option("--level", type=click.Choice(_LEVELS), default="B-T", show_default=True)
@signer_options
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signature image (personal) or seal image (organization).",
)
@click.option("--authority", default="", help="Line above the title: 'KT. CHỦ TỊCH'.")
@click.option("--title", default=None, help="Title (default: from the certificate).")
@click.option(
    "--name", "full_name", default=None, help="Full name (default: from the certificate)."
)
@click.option("--main-number", help="Attachment: the main document's number/symbol.")
@click.option("--copy-type", default="SAO Y", show_default=True)
@click.option("--agency", default=None, help="Copy: the copying agency.")
@click.option("--field", "field_name", help="Sign this (empty) signature field.")
@click.option("--page", type=int, default=None, help="Page number (1-based).")
@click.option("--batch", is_flag=True, help="Sign every PDF in the SOURCE directory.")
@click.option("--jobs", type=int, default=os.cpu_count() or 1, show_default=True)
def sign(
    source: Path,
    output: Path,
    profile: str,
    level: str,
    image: Path | None,
    authority: str,
    title: str | None,
    full_name: str | None,
    main_number: str | None,
    copy_type: str,
    agency: str | None,
    field_name: str | None,
    page: int | None,
    batch: bool,
    jobs: int,
    **key_ref: Any,
) -> None:
    """Sign SOURCE (PAdES, Decree-30 appearance) into OUTPUT."""
    ref = SignerRef(**key_ref, image=image, authority=authority)
    opts_kw: dict[str, Any] = {
        "level": Level(level),
        "authority": authority,
        "title": title,
        "full_name": full_name,
        "main_number": main_number,
        "copy_type": copy_type,
        "agency": agency,
        "field_name": field_name,
        "page": None if page is None else page - 1,
    }
    config = settings()
    if not batch:
        if source.is_dir():
            fail(f"{source} is a directory: add --batch", 2)
        signer = resolve(config, ref)
        engine = engine_for(config, signer)
        try:
            result = engine.sign(source, output, options_for(signer, Profile(profile), **opts_kw))
        except SigningError as exc:
            fail(str(exc))
        click.echo(
            f"{output}: signed ({result.profile}, {result.level}) in field {result.field_name}",
            err=True,
        )
        return
    if not source.is_dir():
        fail(f"--batch needs a directory, not {source}", 2)
    output.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")
    if not files:
        fail(f"no PDF files in {source}")
    resolve(config, ref)  # fail early, before starting workers
    env = {k: v for k, v in os.environ.items() if k.startswith("EDMS_")}
    failures: list[tuple[Path, str]] = []
    opts_kw["profile"] = profile
    with ProcessPoolExecutor(
        max_workers=max(1, jobs), initializer=_init_worker, initargs=(ref, env)
    ) as pool:
        futures = {
            pool.submit(_sign_one, str(f), str(output / f.name), dict(opts_kw)): f for f in files
        }
        with click.progressbar(length=len(files), label="Signing", file=sys.stderr) as bar:
            for fut in as_completed(futures):
                try:
                    fut.result()
                except Exception as exc:
                    failures.append((futures[fut], str(exc)))
                bar.update(1)
    click.echo(
        f"signed {len(files) - len(failures)} of {len(files)} file(s) into {output}", err=True
    )
    for path, why in sorted(failures):
        click.echo(f"FAILED {path.name}: {why}", err=True)
    sys.exit(1 if failures else 0)


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@click.option("--level", type=click.Choice(["B-LT", "B-LTA"]), default="B-LTA", show_default=True)
def extend(source: Path, output: Path, level: str) -> None:
    """Raise the signatures of SOURCE to B-LT or B-LTA."""
    from signing.ltv import extend as do_extend

    try:
        do_extend(source, output, Level(level), trust_services(settings()))
    except SigningError as exc:
        fail(str(exc))
    click.echo(f"{output}: extended to {level}", err=True)


@click.command("fill-fields")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@click.option("--field", "pairs", multiple=True, required=True, metavar="NAME=VALUE")
def fill_fields_cmd(source: Path, output: Path, pairs: tuple[str, ...]) -> None:
    """Fill text fields (number/symbol, date) in an incremental update."""
    from signing.forms import FieldText, fill_fields

    values: dict[str, str | FieldText] = {}
    for pair in pairs:
        if "=" not in pair:
            fail(f"--field takes NAME=VALUE, not {pair!r}", 2)
        k, v = pair.split("=", 1)
        values[k] = v
    try:
        fill_fields(source, output, values)
    except SigningError as exc:
        fail(str(exc))
    click.echo(f"{output}: filled {', '.join(values)}", err=True)
