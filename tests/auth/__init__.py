"""Tests of OAuth sign-in, tokens, TLS and proxy handling, deprecation notices and the studio policy."""
