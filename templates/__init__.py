"""Core report templates (a package so that they install with crmcore)."""
