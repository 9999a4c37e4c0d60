"""Strict stand-in for cupyx (scatter_add / scatter_max / scatter_min), see cupy/__init__.py."""
import cupy as _cupy


def scatter_add(a, slices, value):
    _cupy._scatter(a, slices, value, 'add')


def scatter_max(a, slices, value):
    _cupy._scatter(a, slices, value, 'max')


def scatter_min(a, slices, value):
    _cupy._scatter(a, slices, value, 'min')
