"""Saved runs read back: histories, the regression gate, figures and the scorecard.

Reads pytest-benchmark JSON only; never imports a backend or the harness, so it runs on a
laptop with none of the engines installed.
"""
