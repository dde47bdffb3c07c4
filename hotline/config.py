"""Every setting and its default, in one place.

Values come from the environment (``HOTLINE_*``; ``REDIS_URL``, ``DATABASE_URL`` and
``ASR_MODEL`` are accepted unprefixed as DESIGN.md names them) or from a TOML file named
by ``HOTLINE_CONFIG``. Nothing else in the package reads the environment.

Values are checked when they are loaded: :func:`load_settings` turns any mistake into one
:class:`ConfigError` whose message names the variable (or the file and line) and the fix.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import HotlineError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(HotlineError):
    """A setting that cannot be used; the message names where it came from and the fix."""

    error_id = "config-invalid"
    status = 500


def _port(value: Any, lowest: int = 1) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not lowest <= port <= 65535:
        raise ValueError(f"must be a port number from {lowest} to 65535")
    return port


Port = Annotated[int, BeforeValidator(_port)]
PortOrAny = Annotated[int, BeforeValidator(lambda v: _port(v, lowest=0))]  # 0: any free port


class OperatorSeat(BaseModel):
    """A seat the router may offer calls to: its id, SIP endpoint, skills and languages."""

    id: str
    endpoint: str
    name: str = ""
    skills: dict[str, int] = Field(default_factory=lambda: {"general": 3})
    languages: list[str] = Field(default_factory=lambda: ["zh"])


class LineConfig(BaseModel):
    """An incoming number (12345 or a merged hotline) and the skill its callers need."""

    number: str
    skill: str = "general"
    language: str = "zh"
    priority: int = 0


def _default_lines() -> list[LineConfig]:
    return [
        LineConfig(number="12345", skill="general"),
        LineConfig(number="12315", skill="market"),
        LineConfig(number="12333", skill="labour"),
    ]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    # Asterisk
    ari_url: str = "http://127.0.0.1:8088"
    ari_user: str = "hotline"
    ari_password: str = "hotline"
    ari_app: str = "hotline"
    ami_host: str = "127.0.0.1"
    ami_port: Port = 5038
    ami_user: str = "hotline"
    ami_secret: str = "hotline"
    ami_enabled: bool = True
    reconnect_initial_s: float = 0.2
    reconnect_max_s: float = 10.0

    # Live state and records
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("HOTLINE_REDIS_URL", "REDIS_URL")
    )
    redis_prefix: str = "hotline:"
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/hotline.sqlite3",
        validation_alias=AliasChoices("HOTLINE_DATABASE_URL", "DATABASE_URL"),
    )
    data_dir: Path = Path("var")
    asr_model: str = Field(
        default="../shared/models/vosk-model-small-cn-0.22",
        validation_alias=AliasChoices("HOTLINE_ASR_MODEL", "ASR_MODEL"),
    )
    # Speech recognition (live transcripts of both sides of each answered call)
    asr_enabled: bool = True  # off, or no model at asr_model: calls work, no transcripts
    asr_workers: int = 2  # recogniser processes
    asr_share_model: bool = True  # load once and fork (pages shared); False: one per worker
    asr_max_streams: int = 6  # live streams per worker; more wait for post-call
    asr_max_backlog_s: float = 3.0  # a worker this far behind sheds its newest stream
    asr_beam: float | None = 8.0  # decoder settings; None keeps the model's model.conf
    asr_max_active: int | None = 1000
    asr_lattice_beam: float | None = 2.0
    asr_rtp_host: str = "127.0.0.1"  # our RTP receiver's address
    asr_rtp_port: PortOrAny = 40000  # 0: any free port
    asr_rtp_advertise: str = ""  # host:port Asterisk sends to, if not the receiver's own
    asr_idle_s: float = 1.0  # a stream silent this long has its utterance finalised
    recordings_dir: str = "/var/spool/asterisk/recording"  # where Asterisk writes recordings

    # Web
    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    session_idle_s: float = 1800.0  # a desk untouched this long signs out
    session_absolute_s: float = 12 * 3600.0  # a shift: sign in again after this
    secure_cookies: Literal["auto", "always", "never"] = "auto"  # auto: Secure over TLS
    login_window_s: float = 900.0  # failed sign-ins are counted over this window
    login_max_failures_account: int = 5  # per account per window, then 429
    login_max_failures_address: int = 30  # per client address per window, then 429
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    wrapup_extend_s: float = 30.0  # the desk's "more time" button

    # Call handling
    greeting_sound: str = "sound:hotline/welcome"
    ivr_flows_dir: str = ""  # folder of *.yaml flows; empty: the flows shipped in hotline/ivr
    ivr_max_s: float = 180.0  # no flow holds a caller longer; then the queue
    transfer_context: str = "hotline-transfer"  # dialplan context for transfer nodes
    announce_first_s: float = 30.0  # first position announcement; 0 turns them off
    announce_every_s: float = 60.0
    describe_after_s: float = 10.0  # invite the caller to describe the problem; 0: never
    describe_min_wait_s: float = 45.0  # ... only when the estimated wait is at least this
    # Stopping: callers in the IVR or queue go to the dialplan fallback (off: they stay in
    # Stasis for a restarted server or another instance to adopt); how long to wait for it.
    hand_back_on_stop: bool = True
    stop_grace_s: float = 3.0
    describe_max_s: float = 30.0
    callback_offer: bool = True  # offer a callback when the router says the wait is long
    callback_endpoint: str = "PJSIP/{number}@trunk"  # how the citizen is dialled back
    callback_caller_id: str = "12345"
    survey_enabled: bool = True  # follow-up survey calls for tickets awaiting follow-up
    survey_hours: str = "09:00-20:00"
    survey_retry_hours: list[float] = Field(default_factory=lambda: [4.0, 20.0])
    survey_max_attempts: int = 3
    survey_max_concurrent: int = 4
    survey_per_minute: int = 10
    survey_interval_s: float = 60.0
    post_call_rating: bool = False  # keep the caller for a rating if the operator hangs up
    rating_timeout_s: float = 8.0
    fallback_context: str = "hotline-fallback"
    fallback_extension: str = "s"
    moh_class: str = "default"
    ring_timeout_s: float = 10.0
    wrapup_s: float = 5.0
    record_calls: bool = True
    lines: list[LineConfig] = Field(default_factory=_default_lines)
    operators: list[OperatorSeat] = Field(default_factory=list)

    # Routing and service level
    sla_seconds: float = 15.0
    service_level_target: float = Field(default=0.8, ge=0.0, le=1.0)  # within sla_seconds
    board_queue_waiting_max: int = 5  # the board warns when a queue has more callers waiting
    board_stuck_not_ready_s: float = 900.0  # an operator not ready longer is shown stuck
    board_stuck_wrapup_s: float = 120.0  # ... or in wrap-up longer
    # the supervisors' own phones: coaching rings one of these (or an operator's seat),
    # never an endpoint typed in at will, so no call's audio can be sent off the premises
    supervisor_endpoints: list[str] = Field(default_factory=list)
    short_abandon_seconds: float = 5.0
    widening_steps_s: list[float] = Field(default_factory=lambda: [5.0, 10.0])
    operator_order: Literal["longest_idle", "round_robin", "least_calls", "least_talk"] = (
        "longest_idle"
    )
    router_tick_s: float = 1.0
    mean_handle_s: float = 300.0
    answer_rate_half_life_s: float = 300.0
    overflow_announce_after_s: float = 30.0
    overflow_callback_after_s: float = 120.0
    overflow_divert_after_s: float = 1e9
    overflow_divert_queue: str = ""
    # A caller on the general skill whose recorded description points to one of these
    # departments (codes of the draft's taxonomy) is offered to that skill's seats first,
    # the general ones kept behind it for the widening steps.
    department_skills: dict[str, str] = Field(
        default_factory=lambda: {"market": "market", "hrss": "labour"}
    )

    # Tickets and the closed loop
    timezone: str = "Asia/Shanghai"
    auto_migrate: bool = True  # upgrade the schema at start (SQLite demo); `hotline migrate`
    holidays: list[date] = Field(default_factory=list)  # add to / correct official data
    workdays: list[date] = Field(default_factory=list)  # adjusted working days (调休)
    deadline_working_days: dict[str, int] = Field(default_factory=dict)  # kind → days
    emergency_hours: dict[str, int] = Field(default_factory=dict)  # kind → hours
    urgent_contact_minutes: float = 30.0
    urgent_reply_hours: float = 24.0
    max_extension_days: int = 10
    pause_on_extension: bool = True
    remind_working_days: int = 2
    max_returns: int = 2
    repeat_window_days: int = 30
    notice_interval_s: float = 30.0
    admin_token: str = ""  # ensures an admin user with this API token exists
    sync_url: str = ""  # external work-order platform; empty: no outbox
    sync_secret: str = ""
    sync_interval_s: float = 1.0
    sync_lease_s: float = 30.0
    # Department portal: files sent with a reply, under data_dir unless absolute
    attachments_dir: Path = Path("attachments")
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_types: list[str] = Field(  # extensions; each is checked by content too
        default_factory=lambda: ["jpg", "jpeg", "png", "gif", "pdf", "doc", "docx", "xls", "xlsx"]
    )
    portal_due_soon_days: int = 2  # working days before the deadline an inbox row turns amber

    # Logging
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> str:
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
        return value

    @field_validator("ivr_flows_dir")
    @classmethod
    def _flows_dir(cls, value: str) -> str:
        if value and not Path(value).is_dir():
            raise ValueError("must be a folder of *.yaml flows (or empty for the built-in ones)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HOTLINE_CONFIG")
        if config_file:
            _check_config_file(Path(config_file))
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def line(self, number: str) -> LineConfig:
        for line in self.lines:
            if line.number == number:
                return line
        return LineConfig(number=number)


def _env_names(name: str) -> list[str]:
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(a) for a in alias.choices]
    return [f"HOTLINE_{name.upper()}"]


def _known_keys() -> set[str]:
    keys = set(Settings.model_fields)
    for name in Settings.model_fields:
        keys.update(n.lower() for n in _env_names(name) if not n.startswith("HOTLINE_"))
    return keys


def _check_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file named by HOTLINE_CONFIG; refuse a missing, broken or misspelt one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"HOTLINE_CONFIG={path}: no such file; create it or unset HOTLINE_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"HOTLINE_CONFIG={path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r" \(at line (\d+), column (\d+)\)$", msg)
        if where:
            line, msg = where.group(1), msg[: where.start()]
        else:  # "at end of document"
            line, msg = str(max(1, len(text.splitlines()))), re.sub(r" \(at .*\)$", "", msg)
        raise ConfigError(f"{path}:{line}: not valid TOML: {msg[:1].lower()}{msg[1:]}") from None
    known = _known_keys()
    for key in data:
        if key.lower() not in known:
            near = difflib.get_close_matches(key.lower(), sorted(known), n=1)
            hint = f"; did you mean {near[0]}?" if near else "; see hotline/config.py for the names"
            raise ConfigError(f"{path}:{_line_of(text, key)}: unknown setting {key!r}{hint}")
    return data


def _line_of(text: str, key: str) -> int | str:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*(\[\[?\s*)?{re.escape(key)}\s*[=\].]", line, re.IGNORECASE):
            return n
    return "?"


def _where(loc: tuple[int | str, ...], overrides: dict[str, Any]) -> str:
    """Where the value at ``loc`` came from: the variable, the file and line, or the caller."""
    name = str(loc[0])
    path = name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    if name in overrides:
        return f"setting {path}={overrides[name]!r}"
    if name in Settings.model_fields:
        environ = {k.upper(): v for k, v in os.environ.items()}
        for var in _env_names(name):
            if var.upper() in environ:
                return f"{var}={environ[var.upper()]!r}" + (f" ({path})" if loc[1:] else "")
    config_file = os.environ.get("HOTLINE_CONFIG")
    if config_file:
        text = Path(config_file).read_text(encoding="utf-8")
        return f"{config_file}:{_line_of(text, name)}: {path}"
    return path


def _explain(exc: ValidationError, overrides: dict[str, Any]) -> str:
    problems = []
    for err in exc.errors():
        msg = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])
        problems.append(f"{_where(tuple(err['loc']), overrides)}: {msg[:1].lower()}{msg[1:]}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and HOTLINE_CONFIG; :class:`ConfigError` if unusable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, overrides)) from None
