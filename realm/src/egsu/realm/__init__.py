"""The development realm: a Keycloak-compatible OIDC provider for the embedded setup."""
