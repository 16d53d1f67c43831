"""Server-rendered pages (Jinja2): the dashboard (issue 11 §4)."""
