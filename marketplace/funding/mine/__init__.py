"""A collectivité's own guichet: "Mes financements" (the programmes and calls it is eligible to,
searchable, with their deadlines as a calendar) and the alerts that mail what is new.

``services`` finds the eligible items; ``alerts`` keeps the saved searches and writes their
digests; ``mails`` composes the two mails (confirmation, digest); ``tasks`` runs the digests every
morning; ``views`` are the pages.
"""
