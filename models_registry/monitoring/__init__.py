"""Model monitoring: baselines, per-window snapshots, drift and accuracy, alerts, dashboards.

Where to look: ``baseline.py`` reads an uploaded training sample into a profile;
``snapshots.py`` measures one closed window of one model; ``stats.py`` holds the statistics
(all from scipy/numpy); ``alerts.py`` turns snapshots into alerts and notifications;
``selectors.py`` holds the reads the dashboards and /metrics share.
"""
