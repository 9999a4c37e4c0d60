"""Torch7's .t7 serialization: ``torch.save``, ``torch.load``, ``torch.serialize``, ``torch.deserialize``.

Files are byte-compatible with Lua Torch7's (binary and ascii): Lua can load what luatorch_py saves and the other
way round.  See docs/serialization.md for the format, the Python <-> Lua mapping and the safety guarantees.
"""
from .t7 import save, load, serialize, deserialize, T7Error
from .classes import registerClass

__all__ = ['save', 'load', 'serialize', 'deserialize', 'T7Error', 'registerClass']
