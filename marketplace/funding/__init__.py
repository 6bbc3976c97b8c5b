"""The funding guichet: programmes and calls, eligibility, and funding plans (``plan``)."""
