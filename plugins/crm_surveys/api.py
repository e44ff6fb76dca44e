"""The surveys plugin's public functions for other plugins (a service desk
asking for satisfaction after a solved case, say).

Import them from here only, lazily, and only when ``crm.is_enabled("surveys")``;
catch ``ImportError`` for a database where the plugin is enabled but not
installed, and degrade cleanly (no survey, no error). These names keep their
meaning across releases of this plugin; its other modules may change.
"""

from .answers import record_responses, validate_all
from .definitions import create_survey, get_survey
from .invitations import new_token, personal_link

__all__ = ["create_survey", "get_survey", "new_token", "personal_link", "record_responses", "validate_all"]
