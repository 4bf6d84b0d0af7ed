"""Okta itself as data: import the mapping an Okta app runs today (its App User Schema and its
Okta-user-to-app profile mapping) as a ruleset, and export a reviewed ruleset back as the
bodies Okta's API takes or as Terraform for Okta's provider.
"""
