"""The SDK's options: :func:`sentry_options` and :func:`init_sentry`, with PII held fixed.

``send_default_pii`` is off and cannot be turned on, no local variables, no request bodies, and
every hook ends in the scrubbing of :mod:`cpa_ops.core.sentry.scrub`. sentry_sdk is imported only
by the code that talks to it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cpa_ops import __version__
from cpa_ops.core.sentry.scrub import Event, Hook, scrub_event, scrub_record
from cpa_ops.core.settings import ACCEPTED, ConfigError

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings

RELEASE = f"cpa-ops@{__version__}"

# Options nobody may override: they are what keeps client PII out of Sentry.
_FIXED_OPTIONS: Mapping[str, Any] = {"send_default_pii": False}
_HOOKS = (
    "before_send",
    "before_send_transaction",
    "before_breadcrumb",
    "before_send_log",
    "before_send_metric",
)


def sentry_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The ``sentry_sdk.init`` options for ``settings``; ``overrides`` win, except PII ones.

    A ``before_send``/``before_send_transaction``/``before_breadcrumb``/``before_send_log``/
    ``before_send_metric`` override runs first and the scrubbing hook after it, so no override
    can send anything unscrubbed. Raises ValueError on ``send_default_pii=True`` or any
    ``data_collection`` (which would override it), and ConfigError when the DSN validator rejects
    SENTRY_DSN.
    """
    for name, value in _FIXED_OPTIONS.items():
        if name in overrides and overrides[name] != value:
            raise ValueError(f"{name}={overrides[name]!r} is not allowed: client PII stays home")
    if "data_collection" in overrides:
        raise ValueError("data_collection is not allowed: it would override send_default_pii")
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn is not None else None
    if dsn is not None:
        _check_dsn(dsn)
    from cpa_ops.core.free_text import allow_exception_names
    from cpa_ops.core.sentry.policy import breadcrumb_policy_hook, policy_hook
    from cpa_ops.core.sentry.web import traces_sampler

    # the web and free-text policies first (they need the raw shape), the scrubbing after
    withhold = settings.environment != "development"
    allow_exception_names(settings.allowed_exception_messages)
    event_hook = _then(policy_hook(withhold), scrub_event)
    scrubbers: dict[str, Hook] = {
        "before_send": event_hook,
        "before_send_transaction": event_hook,
        "before_breadcrumb": _then(breadcrumb_policy_hook(withhold), scrub_record),
        "before_send_log": scrub_record,  # Sentry logs, when a service enables them
        "before_send_metric": scrub_record,
    }
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": settings.environment,
        "release": RELEASE,
        "traces_sample_rate": settings.sentry_traces_sample_rate,
        "include_local_variables": False,
        # request bodies of a CPA platform are client data: they never leave
        "max_request_body_size": "never",
    }
    options.update({k: v for k, v in overrides.items() if k not in _HOOKS})
    rate = options.get("traces_sample_rate")
    if "traces_sampler" not in overrides and isinstance(rate, int | float):
        # health routes never sampled, a parent's decision followed, else the rate
        options["traces_sampler"] = traces_sampler(float(rate))
    options.update(_FIXED_OPTIONS)
    for hook, scrubber in scrubbers.items():
        options[hook] = _then(overrides.get(hook), scrubber)
    return options


def init_sentry(settings: Settings, **overrides: Any) -> bool:
    """Initialise the global Sentry SDK; False (and nothing done) when SENTRY_DSN is unset.

    ``overrides`` are ``sentry_sdk.init`` options (see :func:`sentry_options`). The SDK's
    default and auto-enabling integrations stay on, so FastAPI is instrumented wherever it is
    installed; one-shot tools pass ``default_integrations=False,
    auto_enabling_integrations=False`` to skip their import cost.
    """
    if settings.sentry_dsn is None:
        return False
    options = sentry_options(settings, **overrides)
    import sentry_sdk

    with pii_option_accepted():
        sentry_sdk.init(**options)
    from cpa_ops.core.sentry import log_events

    log_events.install()  # the library logger's error lines become events, the rest breadcrumbs
    return True


@contextmanager
def pii_option_accepted() -> Iterator[None]:
    """Silence the SDK's deprecation of ``send_default_pii`` around ``init``/``Client``."""
    # sentry-sdk 2.75 deprecates send_default_pii for data_collection; False maps to the same
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "The send_default_pii option is deprecated", DeprecationWarning
        )
        yield


def _check_dsn(dsn: str) -> None:
    """ConfigError unless ``dsn`` passes the one DSN validator (as strict as the SDK's parser)."""
    from cpa_ops.core.urls import validate_sentry_dsn

    try:
        validate_sentry_dsn(dsn)
    except ValueError as exc:
        raise ConfigError([f"SENTRY_DSN {exc}; expected {ACCEPTED['sentry_dsn']}"]) from None


def _then(first: Hook | None, scrubber: Hook) -> Hook:
    if first is None:
        return scrubber

    def hook(item: Event, hint: dict[str, Any]) -> Event | None:
        try:
            result = first(item, hint)
        except Exception:
            return None  # fail closed: the caller's hook broke, send nothing
        return None if result is None else scrubber(result, hint)

    return hook
