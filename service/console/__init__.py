"""The operator console's domain: sign-in, what the pages show, and the audited actions."""
