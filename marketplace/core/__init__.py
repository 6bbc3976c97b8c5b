"""The shared layer: what every domain uses and none owns.

Database plumbing and the tenant guard (``db``), settings, errors, the audit log, the clock, money,
the curation workflow, the taxonomy, text helpers, Markdown rendering, signed links, upload reading
and the marshmallow fields with French messages. Nothing here imports a domain.
"""
