"""Torch7's nn: modules, containers, criterions.  ``from luatorch_py import nn``; ``nn.Linear(3, 4)``."""
from .module import Module, REGISTRY
from .containers import Container, Sequential
from .linear import Linear
from .activation import Sigmoid, Tanh
from .criterion import Criterion, MSECriterion
from .jacobian import Jacobian
