"""Okta itself as data (a product): import the mapping an Okta app runs today (its App User
Schema and its Okta-user-to-app profile mapping) as a ruleset, and export a reviewed ruleset
back as the bodies Okta's API takes or as Terraform for Okta's provider.

May import the runtime and everything below it; never another product or the command line.
"""
