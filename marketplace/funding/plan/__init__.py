"""The funding plan of the guichet unique: what each programme gives once the caps have spoken.

``engine`` computes (pure, integer cents); ``models`` stores the rules and a city's plans;
``services`` reads the rules in force and saves plans; ``views`` and ``api`` are the edges;
``exports`` writes XLSX and PDF; ``chart`` lays out the bar chart.

The programmes' picker builds plan lines with :func:`line_from_programme`.
"""
from marketplace.funding.plan.engine import line_from_programme

__all__ = ["line_from_programme"]
