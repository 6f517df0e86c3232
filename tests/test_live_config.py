"""LiveConfig: URLs the box parses (through MediaMTX's shell-style split), validation, secrecy."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from pydantic import SecretStr

from studio.live.config import (
    LiveConfig,
    LiveConfigError,
    encode_params,
    ingest_url,
    playback_url,
    redactor,
)
from studio.settings import LiveSettings

NASTY = {
    "prompt": 'a cat\'s "best" day & night = #1 50% off; $HOME `x` \\ ü',
    "strength": 0.5,
    "steps": [1, 2],
    "nested": {"a b": None, "ok": True},
}


def config(**changes: object) -> LiveConfig:
    base = LiveConfig(stream_key="key-1", stream_id="sid-1", model="green-shift")
    return replace(base, **changes)


def test_default_ingest_url_has_the_box_fields() -> None:
    url = ingest_url(config(), {"strength": 0.5})
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == (
        "rtmp",
        "localhost",
        1935,
        "/key-1",
    )
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "pipeline": ["green-shift"],
        "streamId": ["sid-1"],
        "params": ['{"strength":0.5}'],
    }


def test_params_survive_url_parsing_and_the_shell_split() -> None:
    url = ingest_url(config(), NASTY)
    query = urlsplit(url).query
    # the encoded params hold only unreserved characters and escapes: nothing a shell splits on
    encoded = query.split("params=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9._~%-]+", encoded)
    # urllib's parser gets the JSON back exactly
    assert json.loads(parse_qs(query)["params"][0]) == NASTY
    # MediaMTX hands the query to the gateway through a shell-style split of its hook command
    argv = shlex.split(f"curl -X POST -F query={query} http://localhost:5936/start")
    assert argv == ["curl", "-X", "POST", "-F", f"query={query}", "http://localhost:5936/start"]
    assert json.loads(parse_qs(argv[4].removeprefix("query="))["params"][0]) == NASTY


def test_unencoded_params_would_break_the_split() -> None:
    """The reason for the encoding: raw JSON with spaces or quotes does not survive."""
    raw = json.dumps(NASTY)
    try:
        argv = shlex.split(f"curl -F query=params={raw}")
    except ValueError:  # unbalanced quotes
        argv = []
    assert argv != ["curl", "-F", f"query=params={raw}"]
    assert encode_params(NASTY) == quote(
        json.dumps(NASTY, separators=(",", ":"), ensure_ascii=False), safe=""
    )


def test_compact_json() -> None:
    assert unquote(encode_params({"a": 1, "b": [1, 2]})) == '{"a":1,"b":[1,2]}'
    assert unquote(encode_params({})) == "{}"


def test_model_stream_id_and_key_are_encoded() -> None:
    cfg = config(stream_key="k+e%y&=", stream_id="id with space&x=1", model="my model?")
    query = parse_qs(urlsplit(ingest_url(cfg, {})).query, strict_parsing=True)
    assert query["streamId"] == ["id with space&x=1"]
    assert query["pipeline"] == ["my model?"]
    assert urlsplit(ingest_url(cfg, {})).path == "/k%2Be%25y%26%3D"
    assert unquote(urlsplit(playback_url(cfg)).path) == "/k+e%y&=-out"


def test_send_output_asks_for_noop() -> None:
    cfg = config(send="output", model="")
    assert cfg.effective_model() == "noop"
    assert parse_qs(urlsplit(ingest_url(cfg, {})).query)["pipeline"] == ["noop"]
    assert config(send="input").effective_model() == "green-shift"


def test_playback_url_default() -> None:
    assert playback_url(config(host="box.lan", rtmp_port=1936)) == "rtmp://box.lan:1936/key-1-out"


def test_templates_with_other_path_prefixes() -> None:
    cfg = config(
        ingest_template="rtmp://{host}:{port}/live/{key}",
        playback_template="rtmp://{host}:{port}/live/{key}_processed?id={stream_id}",
    )
    assert ingest_url(cfg, {"x": 1}) == "rtmp://localhost:1935/live/key-1"
    assert playback_url(cfg) == "rtmp://localhost:1935/live/key-1_processed?id=sid-1"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rtmp_port": 0}, "rtmp port must be a number from 1 to 65535"),
        ({"api_port": 70000}, "api port must be a number from 1 to 65535"),
        ({"host": ""}, "the host is empty"),
        ({"host": "box lan"}, "is not a plain host name"),
        ({"host": "box/x"}, "is not a plain host name"),
        ({"stream_key": ""}, "the stream key is empty"),
        ({"stream_key": "a/b"}, "single URL path segment (it contains '/')"),
        ({"stream_key": "a?b"}, "contains '?'"),
        ({"stream_key": "a#b"}, "contains '#'"),
        ({"stream_key": "a b"}, "contains whitespace"),
        ({"stream_key": "cam-out"}, "must not end in '-out'"),
        ({"stream_id": " "}, "the stream id is empty"),
        ({"model": ""}, "no model"),
        ({"send": "both"}, "send must be 'input' or 'output'"),
        ({"ingest_template": "rtmp://{host}/{key}"}, "ingest URL template must contain {port}"),
        (
            {"playback_template": "rtmp://{host}:{port}/out"},
            "playback URL template must contain {key}",
        ),
        ({"ingest_template": "rtmp://{host}:{port}/{key}?x={foo}"}, "unknown placeholder {foo}"),
        ({"playback_template": "rtmp://{host}:{port}/{key}?p={params}"}, "{params}"),
        ({"ingest_template": "rtmp://{host}:{port}/{key"}, "unbalanced braces"),
        ({"ingest_template": "rtmp://{host}:{port:05d}/{key}"}, "takes no format"),
        ({"ingest_template": "rtmp://{}:{port}/{key}"}, "unknown placeholder {}"),
        ({"width": 641}, "width must be a positive even number"),
        ({"fps": 0}, "fps must be above 0"),
        ({"bitrate": 0}, "bitrate must be at least"),
        ({"give_up_after": -1}, "give_up_after must be a positive"),
    ],
)
def test_validation_names_the_problem(changes: dict[str, object], expected: str) -> None:
    cfg = config(**changes)
    with pytest.raises(LiveConfigError) as info:
        cfg.validate()
    assert expected in str(info.value)
    with pytest.raises(LiveConfigError):
        ingest_url(cfg, {})


def test_validation_lists_every_problem_and_a_good_config_passes() -> None:
    config().validate()
    config(send="output", model="").validate()
    with pytest.raises(LiveConfigError) as info:
        config(host="", rtmp_port=0, stream_key="a/b").validate()
    assert len(info.value.problems) == 3


def test_non_json_params_are_refused_clearly() -> None:
    with pytest.raises(LiveConfigError, match="not JSON"):
        ingest_url(config(), {"x": float("nan")})
    with pytest.raises(LiveConfigError, match="not JSON"):
        ingest_url(config(), {"x": object()})


def test_key_never_in_repr_or_errors() -> None:
    cfg = config(stream_key="s3cr3t-key")
    assert "s3cr3t" not in repr(cfg)
    assert "stream_key='****'" in repr(cfg)
    assert "sid-1" in repr(cfg)
    for bad in ("s3cr3t/key", "s3cr3t key", "s3cr3t-out"):
        with pytest.raises(LiveConfigError) as info:
            config(stream_key=bad).validate()
        assert "s3cr3t" not in str(info.value)


def test_redactor_masks_plain_and_encoded_key() -> None:
    cfg = config(stream_key="k+e&y")
    redact = redactor(cfg)
    url = ingest_url(cfg, {})
    assert "k%2Be%26y" in url
    assert redact(url) == url.replace("k%2Be%26y", "****")
    assert redact("failed for k+e&y and k%2be%26y") == "failed for **** and ****"
    assert redact("nothing here") == "nothing here"
    assert "k%2Be%26y" not in redact(playback_url(cfg))


def test_defaults_are_generated_distinct_and_valid() -> None:
    configs = [LiveConfig(model="m") for _ in range(20)]
    keys = {c.stream_key for c in configs}
    ids = {c.stream_id for c in configs}
    assert len(keys) == 20
    assert len(ids) == 20
    assert not keys & ids
    for cfg in configs:
        assert re.fullmatch(r"studio-[a-z0-9]{8}", cfg.stream_key)
        cfg.validate()
    default = configs[0]
    assert (default.host, default.rtmp_port, default.api_port) == ("localhost", 1935, 5936)
    assert (default.width, default.height, default.fps, default.bitrate) == (1280, 720, 30.0, 10**6)
    assert default.send == "input"


def test_settings_round_trip() -> None:
    settings = LiveSettings(
        host="box.lan", rtmp_port=1936, api_port=5937, stream_id="sid", stream_key=SecretStr("kk")
    )
    cfg = LiveConfig.from_settings(settings, model="blur", send="output")
    assert (cfg.host, cfg.rtmp_port, cfg.api_port) == ("box.lan", 1936, 5937)
    assert (cfg.stream_id, cfg.stream_key, cfg.model, cfg.send) == ("sid", "kk", "blur", "output")
    back = cfg.to_settings()
    assert back == settings.model_copy(update={"send": "output"})
    assert back.ingest_template == ""  # the box's default layout is not frozen into the file
    custom = replace(cfg, ingest_template="rtmp://{host}:{port}/live/{key}")
    assert LiveConfig.from_settings(custom.to_settings()).ingest_template == custom.ingest_template
    assert isinstance(back.stream_key, SecretStr)
    assert "kk" not in repr(back)


def test_from_empty_settings_generates_names_to_remember() -> None:
    cfg = LiveConfig.from_settings(LiveSettings())
    assert cfg.stream_key.startswith("studio-")
    assert cfg.stream_id.startswith("studio-")
    saved = cfg.to_settings()
    assert saved.stream_key.get_secret_value() == cfg.stream_key
    assert saved.stream_id == cfg.stream_id
