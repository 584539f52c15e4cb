"""Migration from Auth0's Office 365 Rule: adopt the accounts it made, fix its metadata, propose its debris."""
