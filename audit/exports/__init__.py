"""Verifiable compliance exports: stable columns, streamed writers, signed manifests, and an
offline verifier that needs nothing but the file, its manifest and the signing key.

See docs/exports.md for the file layout an auditor relies on.
"""
