"""What "Go live" needs: the box's address, the stream's names, and the URLs built from them.

The ingest URL carries the pipeline's params as percent-encoded JSON: MediaMTX hands the query to
the gateway through a shell-style split, so a raw space or quote in a param would break it.
Everything filled into a template is percent-encoded for the same reason.

The stream key is a secret (anyone who has it can publish to or replace the stream): it never
shows in :func:`repr`, and :func:`redactor` masks it in any text meant for the user or a log.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

from pydantic import SecretStr

from studio.settings import LiveSettings

Send = Literal["input", "output"]

DEFAULT_INGEST_TEMPLATE = (
    "rtmp://{host}:{port}/{key}?pipeline={model}&streamId={stream_id}&params={params}"
)
DEFAULT_PLAYBACK_TEMPLATE = "rtmp://{host}:{port}/{key}-out"

INGEST_PLACEHOLDERS = frozenset({"host", "port", "key", "model", "stream_id", "params"})
PLAYBACK_PLACEHOLDERS = frozenset({"host", "port", "key", "stream_id"})
REQUIRED_PLACEHOLDERS = ("host", "port", "key")

NOOP_MODEL = "noop"
REDACTED = "****"

_ALPHABET = string.ascii_lowercase + string.digits
_BAD_KEY_CHARS = "/?#"


class LiveConfigError(ValueError):
    """The live settings cannot be used; ``problems`` lists each reason, ``str`` joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _random_name() -> str:
    """``studio-`` + 8 lowercase letters/digits: URL-safe, never ends in ``-out``."""
    return "studio-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass(frozen=True, kw_only=True, repr=False)
class LiveConfig:
    """One live session's settings. Frozen: change it with :func:`dataclasses.replace`.

    ``send`` says what leaves the studio: ``"input"`` sends the source and the box runs
    ``model``; ``"output"`` sends the studio's own processed output and the box runs ``noop``
    (useful to check the path end to end, or when the box cannot serve the pipeline).
    """

    host: str = "localhost"
    rtmp_port: int = 1935
    api_port: int = 5936
    stream_key: str = field(default_factory=_random_name)
    stream_id: str = field(default_factory=_random_name)
    model: str = ""
    send: Send = "input"
    ingest_template: str = DEFAULT_INGEST_TEMPLATE
    playback_template: str = DEFAULT_PLAYBACK_TEMPLATE
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    bitrate: int = 1_000_000
    give_up_after: float = 20.0  # seconds without playback before reporting a problem

    def __repr__(self) -> str:
        shown = {name: getattr(self, name) for name in self.__dataclass_fields__}
        shown["stream_key"] = REDACTED
        return f"LiveConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def effective_model(self) -> str:
        """The model id to ask the box for: ``noop`` when the output is already processed."""
        return NOOP_MODEL if self.send == "output" else self.model

    def problems(self) -> list[str]:
        """Every reason this config cannot be used (empty when it can); the key is never shown."""
        found: list[str] = []
        host = self.host.strip() if isinstance(self.host, str) else ""
        if not host:
            found.append("the host is empty")
        elif host != self.host or any(c.isspace() or c in "/?#@" for c in host):
            found.append(f"the host {self.host!r} is not a plain host name or address")
        for name in ("rtmp_port", "api_port"):
            port = getattr(self, name)
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                found.append(f"{name.replace('_', ' ')} must be a number from 1 to 65535")
        found += _key_problems(self.stream_key)
        if not isinstance(self.stream_id, str) or not self.stream_id.strip():
            found.append("the stream id is empty")
        if self.send not in ("input", "output"):
            found.append(f"send must be 'input' or 'output', not {self.send!r}")
        elif self.send == "input" and not (isinstance(self.model, str) and self.model.strip()):
            found.append("no model: choose the pipeline the box should run")
        found += _template_problems("ingest", self.ingest_template, INGEST_PLACEHOLDERS)
        found += _template_problems("playback", self.playback_template, PLAYBACK_PLACEHOLDERS)
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0 or value % 2:
                found.append(f"{name} must be a positive even number of pixels, not {value!r}")
        if not isinstance(self.fps, int | float) or not 0 < self.fps <= 240:
            found.append(f"fps must be above 0 and at most 240, not {self.fps!r}")
        if not isinstance(self.bitrate, int) or self.bitrate < 10_000:
            found.append(f"bitrate must be at least 10000 bits/s, not {self.bitrate!r}")
        if not isinstance(self.give_up_after, int | float) or self.give_up_after <= 0:
            found.append(
                f"give_up_after must be a positive number of seconds, not {self.give_up_after!r}"
            )
        return found

    def validate(self) -> None:
        """Raise :class:`LiveConfigError` naming every problem; return quietly if usable."""
        found = self.problems()
        if found:
            raise LiveConfigError(found)

    @classmethod
    def from_settings(cls, settings: LiveSettings, **overrides: Any) -> LiveConfig:
        """A config from the remembered settings; an empty stream id or key gets a fresh one.

        ``overrides`` set the fields the settings do not keep (``model``, ``send``, ...).
        """
        fields: dict[str, Any] = {
            "host": settings.host,
            "rtmp_port": settings.rtmp_port,
            "api_port": settings.api_port,
            "send": settings.send,
            "width": settings.width,
            "height": settings.height,
            "fps": settings.fps,
            "bitrate": settings.bitrate,
        }
        if settings.ingest_template:
            fields["ingest_template"] = settings.ingest_template
        if settings.playback_template:
            fields["playback_template"] = settings.playback_template
        if settings.stream_id:
            fields["stream_id"] = settings.stream_id
        key = settings.stream_key.get_secret_value()
        if key:
            fields["stream_key"] = key
        return replace(cls(**fields), **overrides)

    def to_settings(self) -> LiveSettings:
        """The part of this config the settings file remembers (the key stays a ``SecretStr``)."""
        return LiveSettings(
            host=self.host,
            rtmp_port=self.rtmp_port,
            api_port=self.api_port,
            stream_id=self.stream_id,
            stream_key=SecretStr(self.stream_key),
            send=self.send,
            # the box's own layout is kept as "" so a newer default applies by itself
            ingest_template=""
            if self.ingest_template == DEFAULT_INGEST_TEMPLATE
            else self.ingest_template,
            playback_template=(
                ""
                if self.playback_template == DEFAULT_PLAYBACK_TEMPLATE
                else self.playback_template
            ),
            width=self.width,
            height=self.height,
            fps=self.fps,
            bitrate=self.bitrate,
        )


def _key_problems(key: object) -> list[str]:
    """Why ``key`` is not one URL path segment the box will process (the key is not echoed)."""
    if not isinstance(key, str) or not key:
        return ["the stream key is empty"]
    bad = sorted({c for c in key if c in _BAD_KEY_CHARS or c.isspace() or not c.isprintable()})
    if bad:
        names = ", ".join("whitespace" if c.isspace() else repr(c) for c in bad)
        return [f"the stream key must be a single URL path segment (it contains {names})"]
    if key.endswith("-out"):
        return ["the stream key must not end in '-out' (the box never processes such streams)"]
    return []


def _template_problems(name: str, template: object, allowed: frozenset[str]) -> list[str]:
    """Why a URL template cannot be filled: bad braces, unknown or missing placeholders."""
    if not isinstance(template, str) or not template.strip():
        return [f"the {name} URL template is empty"]
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"the {name} URL template has unbalanced braces ({exc})"]
    found: list[str] = []
    used: set[str] = set()
    for _text, placeholder, spec, conversion in parts:
        if placeholder is None:
            continue
        if placeholder not in allowed:
            known = ", ".join("{" + p + "}" for p in sorted(allowed))
            found.append(
                f"the {name} URL template has an unknown placeholder {{{placeholder}}} "
                f"(known: {known})"
            )
        elif spec or conversion:
            found.append(
                f"the {name} URL template's {{{placeholder}}} takes no format or conversion"
            )
        used.add(placeholder)
    missing = [p for p in REQUIRED_PLACEHOLDERS if p not in used]
    if missing:
        found.append(
            f"the {name} URL template must contain {', '.join('{' + p + '}' for p in missing)}"
        )
    return found


def _encode(value: str) -> str:
    """Percent-encode everything but unreserved characters, so no shell or URL parser splits it."""
    return quote(value, safe="")


def encode_params(params: Mapping[str, Any]) -> str:
    """``params`` as compact JSON, percent-encoded for a URL query. Raises LiveConfigError."""
    try:
        text = json.dumps(dict(params), separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise LiveConfigError([f"the params are not JSON ({exc})"]) from exc
    return _encode(text)


def ingest_url(config: LiveConfig, params: Mapping[str, Any] | None = None) -> str:
    """Where to publish: the ingest template filled in. Raises :class:`LiveConfigError`."""
    config.validate()
    return config.ingest_template.format(
        host=config.host,
        port=config.rtmp_port,
        key=_encode(config.stream_key),
        model=_encode(config.effective_model()),
        stream_id=_encode(config.stream_id),
        params=encode_params(params or {}),
    )


def playback_url(config: LiveConfig) -> str:
    """Where the box's processed stream plays. Raises :class:`LiveConfigError`."""
    config.validate()
    return config.playback_template.format(
        host=config.host,
        port=config.rtmp_port,
        key=_encode(config.stream_key),
        stream_id=_encode(config.stream_id),
    )


def secret_redactor(secret: str) -> Callable[[str], str]:
    """A function that masks ``secret`` (as typed and percent-encoded) in any text."""
    if not secret:
        return lambda text: text
    forms = sorted({secret, _encode(secret)}, key=len, reverse=True)
    # percent-escapes match in either case (%2B or %2b): some tools lowercase them
    pattern = re.compile(
        "|".join(
            re.sub(r"%([0-9A-F]{2})", lambda m: f"%(?i:{m.group(1)})", re.escape(form))
            for form in forms
        )
    )
    return lambda text: pattern.sub(REDACTED, text)


def redactor(config: LiveConfig) -> Callable[[str], str]:
    """A function that masks ``config``'s stream key in any text (URLs, errors, logs)."""
    return secret_redactor(config.stream_key)
