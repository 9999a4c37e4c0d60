"""docs/nn.md and docs/conv.md name every Torch7 class of nn.REGISTRY (issue: the docs list every module)."""
import os
import re

from luatorch_py import nn

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs')


def test_every_registered_class_is_documented():
    text = ''.join(open(os.path.join(DOCS, f), encoding='utf-8').read() for f in ('nn.md', 'conv.md'))
    names = {k.split('.', 1)[1] for k, cls in nn.REGISTRY.items()      # (not the classes docs examples register)
             if k.startswith('nn.') and cls.__module__.startswith('luatorch_py.')}
    assert len(names) > 100
    assert sorted(n for n in names if not re.search(rf'\b{n}\b', text)) == []
