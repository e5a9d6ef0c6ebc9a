"""Subcommands of the ``hermes`` CLI (see ``hermes_agents.cli``)."""
