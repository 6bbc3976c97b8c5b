"""The funded-projects model: which programme funds a project like this one (pure: no Flask, no database)."""
