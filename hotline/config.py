"""Every setting and its default, in one place.

Values come from the environment (``HOTLINE_*``; ``REDIS_URL``, ``DATABASE_URL`` and
``ASR_MODEL`` are accepted unprefixed as DESIGN.md names them) or from a TOML file named
by ``HOTLINE_CONFIG``. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    ami_port: int = 5038
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
    asr_rtp_port: int = 40000  # 0: any free port
    asr_rtp_advertise: str = ""  # host:port Asterisk sends to, if not the receiver's own
    asr_idle_s: float = 1.0  # a stream silent this long has its utterance finalised
    recordings_dir: str = "/var/spool/asterisk/recording"  # where Asterisk writes recordings

    # Web
    http_host: str = "127.0.0.1"
    http_port: int = 8080

    # Call handling
    greeting_sound: str = "sound:hotline/welcome"
    ivr_flows_dir: str = ""  # folder of *.yaml flows; empty: the flows shipped in hotline/ivr
    ivr_max_s: float = 180.0  # no flow holds a caller longer; then the queue
    transfer_context: str = "hotline-transfer"  # dialplan context for transfer nodes
    announce_first_s: float = 30.0  # first position announcement; 0 turns them off
    announce_every_s: float = 60.0
    describe_after_s: float = 10.0  # invite the caller to describe the problem; 0: never
    describe_min_wait_s: float = 45.0  # ... only when the estimated wait is at least this
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

    # Logging
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

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
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def line(self, number: str) -> LineConfig:
        for line in self.lines:
            if line.number == number:
                return line
        return LineConfig(number=number)


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
