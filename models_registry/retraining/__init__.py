"""Retraining as a tracked workflow: request, candidate, validation, sign-off, promotion.

``services`` holds the state machine's transitions (each checks who may make it and writes
its audit event), ``validation`` the gates, ``labels`` the training-labels file,
``notifications`` the pipeline webhook and the approvers' email, ``tasks`` the thin django-q2
entry points, ``selectors`` the reads shared by pages and API. See docs/retraining.md.
"""
