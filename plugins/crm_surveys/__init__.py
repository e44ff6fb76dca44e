"""crm_surveys: built-in plugin (work in progress)."""

crm_api_version = 1
