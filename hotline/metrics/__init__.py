"""Every Prometheus metric the server exports, defined once.

Definitions follow DESIGN.md: offered = entered the operator queue; answered = bridged to an
operator; abandoned = caller hung up while queued; short abandon = abandoned within the
short-abandon threshold. Service level = answered within T ÷ (offered − short abandons),
recomputable in PromQL from these counters and the wait histogram's 15 s bucket.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """One registry per app instance, so tests can build many apps in one process."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        ql = ["queue", "line"]
        self.calls_received = Counter(
            "hotline_calls_received", "Calls that entered the Stasis app", ["line"], registry=r
        )
        self.calls_offered = Counter(
            "hotline_calls_offered", "Calls that entered the operator queue", ql, registry=r
        )
        self.calls_answered = Counter(
            "hotline_calls_answered", "Calls bridged to an operator", ql, registry=r
        )
        self.calls_answered_within_sla = Counter(
            "hotline_calls_answered_within_sla",
            "Calls bridged to an operator within the service-level threshold",
            ql,
            registry=r,
        )
        self.calls_abandoned = Counter(
            "hotline_calls_abandoned", "Callers who hung up while queued", ql, registry=r
        )
        self.calls_short_abandoned = Counter(
            "hotline_calls_short_abandoned",
            "Callers who hung up while queued within the short-abandon threshold",
            ql,
            registry=r,
        )
        self.calls_transferred = Counter(
            "hotline_calls_transferred",
            "Calls handed to another number (an IVR transfer node or the operator's transfer)",
            ql,
            registry=r,
        )
        self.desk_controls = Counter(
            "hotline_desk_controls",
            "Operators' call controls (hold, resume, transfer, conference, hangup) by result",
            ["action", "result"],
            registry=r,
        )
        self.calls_fallback = Counter(
            "hotline_calls_fallback",
            "Calls handed back to the dialplan's fallback queue (error, shutdown)",
            [*ql, "reason"],
            registry=r,
        )
        self.playbacks_failed = Counter(
            "hotline_playbacks_failed",
            "Prompts Asterisk could not play (no sound file in the channel's language)",
            ["media"],
            registry=r,
        )
        self.calls_reconciled = Counter(
            "hotline_calls_reconciled",
            "Calls found ended after a restart or reconnect, closed from their saved progress",
            ["outcome"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "hotline_queue_wait_seconds",
            "Time from enqueue to answer or abandon",
            ql,
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.calls_waiting = Gauge(
            "hotline_calls_waiting", "Calls waiting in the queue now", ["queue"], registry=r
        )
        self.queue_longest_wait = Gauge(
            "hotline_queue_longest_wait_seconds",
            "Wait of the oldest queued call",
            ["queue"],
            registry=r,
        )
        self.agents = Gauge("hotline_agents", "Operators by state", ["state"], registry=r)
        self.offers_missed = Counter(
            "hotline_offers_missed", "Offers an operator did not answer in time", registry=r
        )
        self.ari_events = Counter("hotline_ari_events", "ARI events received", ["type"], registry=r)
        self.ari_bad_frames = Counter(
            "hotline_ari_bad_frames",
            "ARI websocket frames that could not be parsed",
            ["reason"],
            registry=r,
        )
        self.ari_errors = Counter(
            "hotline_ari_errors", "ARI REST calls that failed", ["kind"], registry=r
        )
        self.ari_reconnects = Counter(
            "hotline_ari_reconnects", "ARI websocket (re)connections", registry=r
        )
        self.ari_connected = Gauge(
            "hotline_ari_connected", "1 while the ARI websocket is up", registry=r
        )
        self.ami_events = Counter(
            "hotline_ami_events", "AMI events received", ["event"], registry=r
        )
        self.ami_reconnects = Counter(
            "hotline_ami_reconnects", "AMI logins (first and after reconnect)", registry=r
        )
        self.ami_connected = Gauge("hotline_ami_connected", "1 while logged in to AMI", registry=r)
        self.unknown_channel_events = Counter(
            "hotline_unknown_channel_events",
            "Events for channels no call session owns",
            ["type"],
            registry=r,
        )
        self.controller_latency = Histogram(
            "hotline_controller_latency_seconds",
            "Time the controller adds: event received to command sent",
            ["step"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.session_errors = Counter(
            "hotline_session_errors", "Exceptions in call handling", ["state"], registry=r
        )
        self.loop_lag = Histogram(
            "hotline_event_loop_lag_seconds",
            "Event-loop scheduling lag",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

        self.rtp_packets = Counter(
            "hotline_asr_rtp_packets", "RTP packets received for speech recognition", registry=r
        )
        self.rtp_dropped = Counter(
            "hotline_asr_rtp_dropped",
            "RTP datagrams dropped (unknown_source, short, version, payload_type, "
            "payload_size, late, duplicate)",
            ["reason"],
            registry=r,
        )
        self.rtp_lost = Counter(
            "hotline_asr_rtp_lost_frames", "RTP frames missing, filled with silence", registry=r
        )
        self.asr_streams = Gauge(
            "hotline_asr_live_streams", "Audio streams decoded live now", registry=r
        )
        self.asr_streams_total = Counter(
            "hotline_asr_streams",
            "Call sides offered to live recognition, by outcome (live, refused, degraded)",
            ["outcome"],
            registry=r,
        )
        self.asr_segments = Counter(
            "hotline_asr_segments", "Transcript segments produced", ["kind"], registry=r
        )
        self.asr_backlog = Gauge(
            "hotline_asr_backlog_seconds", "Audio queued for the busiest ASR worker", registry=r
        )

    def init_lines(self, lines: list[tuple[str, str]]) -> None:
        """Create every (queue, line) series at zero, so dashboards and rate() see them
        before the first call."""
        for queue, line in lines:
            self.calls_received.labels(line=line)
            for metric in (
                self.calls_offered,
                self.calls_answered,
                self.calls_answered_within_sla,
                self.calls_abandoned,
                self.calls_short_abandoned,
                self.queue_wait,
            ):
                metric.labels(queue=queue, line=line)
            self.calls_waiting.labels(queue=queue)
            self.queue_longest_wait.labels(queue=queue)

    def render(self) -> bytes:
        return generate_latest(self.registry)
