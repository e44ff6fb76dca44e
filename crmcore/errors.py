"""The errors a user sees: one line that says what is wrong and what to do.

Everything here is a ``CRMError``, so the CLI and the web app need to catch
only that one class to turn a user's mistake into a message instead of a
traceback (``CRM_DEBUG=1`` or ``crm --traceback`` shows the traceback too).
This module imports nothing else of the CRM: every layer may use it.
"""


class CRMError(Exception):
    """A user-facing problem: the message is one line that says what to do."""


class FieldError(CRMError, ValueError):
    """A value that does not fit a field; ``field`` names it, ``reason`` says why."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class StoreError(CRMError):
    """A storage problem worth a one-line message (busy, read-only, corrupt)."""


class PluginError(CRMError):
    """A plugin's hook raised; the message names the plugin and the hook.

    ``where`` is the plugin's own source line that raised (``file:line``),
    so the author knows where to look without a traceback."""

    def __init__(self, plugin, hook, exc, where=None):
        place = f" (at {where})" if where else ""
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}{place}")
        self.plugin = plugin
        self.hook = hook
        self.original = exc
        self.where = where
