"""How close can the float XOR tutorial get to Lua Torch7's log, bit for bit?  (issue 12's stretch; docs/developing.md)

Replays the tutorial's 2400 steps in numpy from luatorch_py's initial weights (Torch7's stream, seed 1) under 32
combinations of where Torch7's C code may compute in double: sigmoid's exp (THNN calls C's double exp on a float),
MSE's sum (accreal), sigmoid's backward (the literal 1. is a double), the matrix products, the update.  Prints, per
combination, how many of the 12 logged losses equal Lua's bit for bit and the largest relative difference.
Run: .venv/bin/python benchmarks/xor_bits.py
"""
import itertools
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, 'tests', 'nn'), ROOT]
import luatorch_py as torch  # noqa: E402
from luatorch_py import nn  # noqa: E402
from test_tutorials import LUA_XOR_LOG  # noqa: E402

torch.manualSeed(1)
l1=nn.Linear(3,4); l2=nn.Linear(4,1)
W1,b1,W2,b2=[t.numpy().astype(np.float32).copy() for t in (l1.weight,l1.bias,l2.weight,l2.bias)]
f=np.float32
X=np.array([[0,0,1],[0,1,1],[1,0,1],[1,1,1]],f); Y=np.array([[0],[1],[1],[0]],f)
def run(sig64, loss64, sigb64, mm64, upd_fma):
    w1,c1,w2,c2=W1.copy(),b1.copy(),W2.copy(),b2.copy()
    def mm(a,b): return (a.astype(np.float64)@b.astype(np.float64)).astype(f) if mm64 else a@b
    def sig(z): return (1/(1+np.exp(-z.astype(np.float64)))).astype(f) if sig64 else f(1)/(f(1)+np.exp(-z))
    log=[]
    for i in range(2400):
        h=sig(mm(X,w1.T)+c1); o=sig(mm(h,w2.T)+c2)
        z=o-Y
        loss = float(np.sum((z*z).astype(np.float64))/z.size) if loss64 else float(np.mean(z*z,dtype=f))
        loss=float(f(loss))
        go=f(2/z.size)*z
        def sb(g,y): return (g.astype(np.float64)*(1.0-y.astype(np.float64))*y.astype(np.float64)).astype(f) if sigb64 else g*(f(1)-y)*y
        g2=sb(go,o)
        gw2=mm(g2.T,h); gb2=g2.sum(0)
        gh=mm(g2,w2)
        g1=sb(gh,h)
        gw1=mm(g1.T,X); gb1=g1.sum(0)
        for p,g in ((w1,gw1),(c1,gb1),(w2,gw2),(c2,gb2)):
            if upd_fma: p[...]=(p.astype(np.float64)-g.astype(np.float64)).astype(f)
            else: p-=g
        if i%200==0: log.append(loss)
    return log
for flags in itertools.product([0,1],repeat=5):
    log=run(*flags)
    same=sum(a==b for a,b in zip(log,LUA_XOR_LOG))
    err=max(abs(a-b)/b for a,b in zip(log,LUA_XOR_LOG))
    print(flags, same, '%.2e'%err)
