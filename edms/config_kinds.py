"""The kinds of ``EDMS_*`` settings :mod:`edms.config` declares its fields with: each helper
(:func:`text`, :func:`flag`, :func:`integer`, :func:`choice`, :func:`path`...) returns a
dataclass field whose metadata holds the :class:`Setting` — how the variable's text is
parsed and checked, and how ``.env.example`` shows it. Only the standard library."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


class ConfigError(ValueError):
    """An environment variable has a value EDMS cannot use."""


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={value!r}: expected true/false")


def _int(name: str, value: str, minimum: int = 0) -> int:
    try:
        n = int(value.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a whole number") from None
    if n < minimum:
        raise ConfigError(f"{name}={value!r}: must be at least {minimum}")
    return n


def _float(name: str, value: str, minimum: float = 0.0) -> float:
    try:
        n = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected a number") from None
    if n < minimum:
        raise ConfigError(f"{name}={value!r}: must be at least {minimum}")
    return n


def _networks(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks (``10.0.0.5, 10.1.0.0/16``)."""
    import ipaddress

    out = []
    for part in value.split(","):
        if part.strip():
            try:
                out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(
                    f"{name}: {part.strip()!r} is not an IP address or network"
                ) from None
    return tuple(out)


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    v = value.strip().lower()
    if v not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return v


# -- the declaration of one setting ------------------------------------------------------


Parse = Callable[[str, str], Any]


@dataclass(frozen=True)
class Setting:
    """One ``EDMS_*`` variable: how its text becomes the value of ``Settings.<attr>``.

    ``default`` is the text an unset variable reads as (derived from the field's typed
    default); ``derive`` gives the value of an empty one from the settings read before it
    (``EDMS_STORAGE_DIR``: ``$EDMS_DATA_DIR/store``). ``relative`` paths are taken from
    :func:`config_base`. ``example``/``commented``/``intro`` only shape ``.env.example``."""

    parse: Parse
    default: str
    help: str
    attr: str = ""
    env: str = ""
    secret: bool = False
    relative: bool = False
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    example: str | None = None
    commented: bool = False
    intro: str = ""


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _declare(default: Any, parse: Parse, help: str, **spec: Any) -> Any:
    text = spec.pop("text", None)
    setting = Setting(parse, _text_of(default) if text is None else text, help, **spec)
    return field(default=default, metadata={"setting": setting})


def text(default: str, help: str, clean: Callable[[str], str] | None = None, **spec: Any) -> Any:
    """A string (``clean`` tidies it: strip, upper-case...)."""
    return _declare(default, lambda _n, v: clean(v) if clean else v, help, **spec)


def optional_text(help: str, **spec: Any) -> Any:
    """A string, or None when empty."""
    return _declare(None, lambda _n, v: v or None, help, **spec)


def flag(default: bool, help: str, **spec: Any) -> Any:
    """true/false (also 1/0, yes/no, on/off)."""
    return _declare(default, _bool, help, **spec)


def optional_flag(help: str, **spec: Any) -> Any:
    """true/false, or None when empty (decided elsewhere)."""
    return _declare(None, lambda n, v: _bool(n, v) if v else None, help, **spec)


def integer(default: int, help: str, minimum: int = 0, **spec: Any) -> Any:
    """A whole number, at least ``minimum``."""
    return _declare(default, lambda n, v: _int(n, v, minimum), help, **spec)


def number(default: float, help: str, minimum: float = 0.0, **spec: Any) -> Any:
    """A number, at least ``minimum``."""
    return _declare(default, lambda n, v: _float(n, v, minimum), help, **spec)


def choice(
    default: str, choices: tuple[str, ...], help: str, upper: bool = False, **spec: Any
) -> Any:
    """One of ``choices``, in any case (the value: lower-case, or upper-case if ``upper``)."""

    def parse(name: str, value: str) -> str:
        v = _choice(name, value, choices)
        return v.upper() if upper else v

    return _declare(default, parse, help, **spec)


def path(default: Path, help: str, **spec: Any) -> Any:
    """A path; a relative one is taken from :func:`config_base`."""
    return _declare(default, lambda _n, v: Path(v).expanduser(), help, relative=True, **spec)


def optional_path(help: str, relative: bool = True, **spec: Any) -> Any:
    """A path, or None when empty."""

    def parse(_name: str, value: str) -> Path | None:
        return Path(value).expanduser() if value else None

    return _declare(None, parse, help, relative=relative, **spec)


def words(default: tuple[str, ...], help: str, parse: Parse | None = None, **spec: Any) -> Any:
    """A comma-separated list (empty items dropped)."""

    def split(_name: str, value: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in value.split(",") if w.strip())

    return _declare(default, parse or split, help, **spec)


def _mime_types(name: str, value: str) -> tuple[str, ...]:
    types = tuple(t.strip().lower() for t in value.split(",") if t.strip())
    if not types:
        raise ConfigError(f"{name} must name at least one MIME type")
    return types


def _megabytes(default: int) -> Parse:
    def parse(name: str, value: str) -> int:
        return _int(name, value, 1) * MIB if value else default

    return parse
