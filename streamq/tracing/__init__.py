"""OpenTelemetry traces of jobs, optional: `pip install 'streamq[otel]'`.

Turned on by `STREAMQ_OTEL=true` (an App created with it enables itself) or by
`streamq.tracing.enable(app)`. Then enqueue opens a PRODUCER `send` span per job, whose
trace context is stored in the job's record, and every attempt runs in a CONSUMER
`process` span linked to it (messaging semantic conventions). Spans go to the global
TracerProvider (or the one given to `enable`): configure it as for any library.

Off, this package imports no OpenTelemetry module and the per-job paths pay one `is None`
check: `App.tracing` is None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from ..app import App
    from .spans import Tracing


def enable(app: App, tracer_provider: TracerProvider | None = None) -> Tracing:
    """Trace `app`'s jobs from now on; call it before serving the API or running a node."""
    try:
        from .spans import Tracing
    except ImportError as exc:
        raise ConfigurationError(
            f"tracing needs OpenTelemetry: pip install 'streamq[otel]' ({exc})"
        ) from None
    app.tracing = Tracing(tracer_provider)
    return app.tracing
