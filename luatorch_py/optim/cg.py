"""Torch7's optim.cg: conjugate gradients, a rewrite of Carl E. Rasmussen's minimize.m."""
import math

from ._util import evaluate as checked_call, get_state, opt, grad_tensor, check_x, lua_div, lua_sqrt


def _finite(v):
    return v == v and v != math.inf and v != -math.inf


def cg(opfunc, x, config=None, state=None):
    """Conjugate-gradient minimization with Rasmussen's line search (Polack-Ribiere directions, cubic
    interpolation/extrapolation, Wolfe-Powell conditions).  Like Torch7, only the number of function
    evaluations is limited (maxEval); returns ``(x, f_hist)`` with f_hist[0] the value before any step and
    f_hist[-1] the value at the returned x (Torch7 also returns the evaluation count).

    config: ``rho`` (0.01), ``sig`` (0.5), ``int`` (0.1), ``ext`` (3.0), ``maxIter`` (20), ``ratio`` (100),
    ``maxEval`` (maxIter*1.25).
    state (temporary buffers, reused when present): ``df0``, ``df1``, ``df2``, ``df3``, ``x0``, ``s``.
    """
    check_x(x, 'cg')
    config, state = get_state(config, state, 'cg')
    rho = opt(config, 'rho', 0.01)
    sig = opt(config, 'sig', 0.5)
    intv = opt(config, 'int', 0.1)
    ext = opt(config, 'ext', 3.0)
    max_iter = opt(config, 'maxIter', 20)
    ratio = opt(config, 'ratio', 100)
    max_eval = opt(config, 'maxEval', max_iter * 1.25)
    red = 1

    i = 0
    fx = []

    # three points for the interpolation/extrapolation
    z1 = z2 = z3 = 0
    d1 = d2 = d3 = 0
    f1 = f2 = f3 = 0

    def buf(name):
        b = state.get(name)
        if b is None:
            b = type(x)()
        return b.resizeAs(x)

    df1, df2, df3 = buf('df1'), buf('df2'), buf('df3')
    # search direction, and temporary storage for x
    s = buf('s')
    x0 = buf('x0')
    df0 = buf('df0')
    f0 = 0

    def evaluate():
        f, tdf = checked_call(opfunc, x, 'cg')
        df2.copy(grad_tensor(tdf, x, 'cg'))
        return f

    # evaluate at the initial point
    f1, tdf = checked_call(opfunc, x, 'cg')
    fx.append(f1)
    df1.copy(grad_tensor(tdf, x, 'cg'))
    i += 1

    # initial search direction
    s.copy(df1).mul(-1)

    d1 = -s.dot(s)                # slope
    z1 = lua_div(red, 1 - d1)     # initial step

    while i < abs(max_eval):
        x0.copy(x)
        f0 = f1
        df0.copy(df1)

        x.add(z1, s)
        f2 = evaluate()
        i += 1
        d2 = df2.dot(s)
        f3, d3, z3 = f1, d1, -z1      # init point 3 equal to point 1
        m = min(max_iter, max_eval - i)
        success = 0
        limit = -1

        while True:
            while (f2 > f1 + z1 * rho * d1 or d2 > -sig * d1) and m > 0:
                limit = z1
                if f2 > f1:
                    z2 = z3 - lua_div(0.5 * d3 * z3 * z3, d3 * z3 + f2 - f3)
                else:
                    a = lua_div(6 * (f2 - f3), z3) + 3 * (d2 + d3)
                    b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
                    z2 = lua_div(lua_sqrt(b * b - a * d2 * z3 * z3) - b, a)
                if not _finite(z2):
                    z2 = z3 / 2
                z2 = max(min(z2, intv * z3), (1 - intv) * z3)
                z1 = z1 + z2
                x.add(z2, s)
                f2 = evaluate()
                i += 1
                m -= 1
                d2 = df2.dot(s)
                z3 = z3 - z2
            if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1:
                break
            elif d2 > sig * d1:
                success = 1
                break
            elif m == 0 or (m < 0 and (d1 == 0 or not _finite(f2))):
                # Torch7 tests m == 0 alone: a fractional budget (maxEval = maxIter*1.25, e.g. 3.75 - 2) steps over
                # it and the search goes on past maxEval until it succeeds, as here; where it never could -- no
                # slope (x at a minimum) or f no longer finite -- Torch7 extrapolated forever: here it stops
                break
            a = lua_div(6 * (f2 - f3), z3) + 3 * (d2 + d3)
            b = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
            z2 = lua_div(-d2 * z3 * z3, b + lua_sqrt(b * b - a * d2 * z3 * z3))

            if not _finite(z2) or z2 < 0:
                if limit < -0.5:
                    z2 = z1 * (ext - 1)
                else:
                    z2 = (limit - z1) / 2
            elif limit > -0.5 and (z2 + z1) > limit:
                z2 = (limit - z1) / 2
            elif limit < -0.5 and (z2 + z1) > z1 * ext:
                z2 = z1 * (ext - 1)
            elif z2 < -z3 * intv:
                z2 = -z3 * intv
            elif limit > -0.5 and z2 < (limit - z1) * (1 - intv):
                z2 = (limit - z1) * (1 - intv)
            f3 = f2
            d3 = d2
            z3 = -z2
            z1 = z1 + z2
            x.add(z2, s)
            f2 = evaluate()
            i += 1
            m -= 1
            d2 = df2.dot(s)

        if success == 1:
            f1 = f2
            fx.append(f1)
            ss = lua_div(df2.dot(df2) - df2.dot(df1), df1.dot(df1))
            s.mul(ss)
            s.add(-1, df2)
            # swap df1 and df2 (df3, unused otherwise, is the scratch: Torch7 clones here)
            df3.copy(df1)
            df1.copy(df2)
            df2.copy(df3)
            d2 = df1.dot(s)
            if d2 > 0:
                s.copy(df1)
                s.mul(-1)
                d2 = -s.dot(s)
            z1 = z1 * min(ratio, lua_div(d1, d2 - 1e-320))
            d1 = d2
        else:
            x.copy(x0)
            f1 = f0
            df1.copy(df0)
            # Torch7 tests `if ls_failed or i > maxEval then break end` with ls_failed 0 or 1, both true in
            # Lua: a failed line search always ends the run (minimize.m would retry once along -df)
            break

    state['df0'] = df0
    state['df1'] = df1
    state['df2'] = df2
    state['df3'] = df3
    state['x0'] = x0
    state['s'] = s
    return x, fx
